// Package models holds the user model that ginauth authenticates: a GORM base
// User that applications extend by embedding, the small interface the auth
// package needs from any user type, and a GORM-backed user store.
//
// # Extending the user model
//
// Embed User in your own type and add fields; the auth package is generic
// over the type, so handlers get your type back without assertions:
//
//	type Account struct {
//		models.User
//		Email string `json:"email"`
//		Plan  string `json:"plan"`
//	}
//
//	users := models.NewGORMStore[Account](db)
//
// The password hash never appears in JSON: its field is tagged json:"-".
//
// # Other user stores
//
// Any storage fits by implementing UserStore. Usernames reach a store
// already normalized (see auth.NormalizeUsername), so a store compares them
// exactly.
package models
