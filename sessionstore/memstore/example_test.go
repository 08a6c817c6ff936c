package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

// Every store indexes sessions by user: listing a user's sessions, or
// revoking them all (logout everywhere), is one call and one batch.
func ExampleStore_DestroyUser() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	ctx := context.Background()
	now := time.Now()
	for range 3 { // three devices sign in
		rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "42", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}
		if err := store.Create(ctx, storetest.NewKey(), rec); err != nil {
			panic(err)
		}
	}
	list, _ := store.List(ctx, "42")
	fmt.Println("sessions:", len(list))
	n, _ := store.DestroyUser(ctx, "42")
	fmt.Println("revoked:", n)
	// Output:
	// sessions: 3
	// revoked: 3
}
