package auth_test

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
)

type Cart struct {
	Items []string `json:"items"`
}

// Typed session values: what goes in as a Cart comes out as a Cart, in
// every store.
func ExampleSet() {
	r := gin.New()
	// r.Use(middleware.Session(a))
	r.POST("/cart/:item", func(c *gin.Context) {
		cart, _ := auth.Get[Cart](c, "cart")
		cart.Items = append(cart.Items, c.Param("item"))
		if err := auth.Set(c, "cart", cart); err != nil {
			auth.WriteProblem(c, err)
			return
		}
		c.JSON(http.StatusOK, cart) // the session is saved before this goes out
	})
}
