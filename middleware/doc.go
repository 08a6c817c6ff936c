// Package middleware holds the Gin middleware of ginauth's HTTP edge:
// RequireAuth, cross-origin protection, request body limits,
// Cache-Control and debug logging, and WriteError, which answers any error
// of ginauth with the status and code of the HTTP contract.
//
//	r.Use(sessions.Middleware())
//	r.GET("/account", middleware.RequireAuth(a), account)
//
// The session middleware itself is the session manager's
// (session.Manager.Middleware).
package middleware
