// Package models is the user model that ginauth authenticates: the base
// User that applications extend by embedding, the small interface the auth
// package needs from any user type (Authenticatable), and the interface of
// a user store (UserStore). It imports no database library; the GORM user
// store is models/gormusers.
//
// # Extending the user model
//
// Embed User in your own type and add fields; the auth package is generic
// over the type, so handlers get your type back without assertions:
//
//	type Account struct {
//		models.User
//		DisplayName string `json:"displayName"`
//	}
//
//	users := gormusers.New[Account](db)
//	a, err := auth.New(auth.Config[*Account]{Users: users, ...})
//	acct, ok := a.User(c) // *Account
//
// The password hash never appears in JSON: its field is tagged json:"-".
//
// # Email addresses
//
// Addresses are opt-in: a user type without one keeps working unchanged.
// To give users an address (for password reset and email verification),
// embed Email beside User:
//
//	type Account struct {
//		models.User
//		models.Email
//	}
//
// *Account then implements EmailOwner. A user store keeps addresses by
// implementing EmailStore, and the single-use tokens sent by mail by
// implementing TokenStore; neither is part of UserStore. The auth package
// finds them by type assertions on the UserStore it is given, and refuses
// at start a configuration that needs addresses when the user type or the
// store lacks them. gormusers implements both (EmailStore only for a type
// that embeds Email). Addresses reach a store normalized, and a store
// compares them exactly, as it does usernames.
//
// # Second factors
//
// A user store keeps users' second factors by implementing FactorStore,
// which is not part of UserStore either: one authenticator app (TOTP)
// enrolment per user, its secret sealed by the auth package before it
// reaches the store, and the hashes (SHA-256) of unused recovery codes,
// never the codes. An enrolment guards sign-in once ConfirmTOTP made it
// active; SetTOTP refuses with ErrFactorExists to replace an active one.
// The store makes each code single use across every instance: UseTOTPStep
// accepts a time step only if it is later than the last one accepted, and
// UseRecoveryCode deletes the code it accepts, each atomically, so that
// of concurrent calls one succeeds. gormusers implements FactorStore in
// two tables of its own, whatever the user type.
//
// # Other user stores
//
// Any storage fits by implementing UserStore. Usernames reach a store
// already normalized (see auth.NormalizeUsername), and a store must compare
// them exactly: no case or accent folding (ginauth also checks the name of
// the user it gets back).
package models
