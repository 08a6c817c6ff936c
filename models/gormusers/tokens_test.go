package gormusers_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// token returns a token for the user, its hash made from n.
func token(n int, userID, purpose string) models.Token {
	return models.Token{
		Hash:       sha256.Sum256(fmt.Appendf(nil, "token %d", n)),
		Purpose:    purpose,
		UserID:     userID,
		Email:      "u" + userID + "@x.org",
		Credential: "0123456789abcdef0123456789abcdef",
		Session:    "s" + userID,
		ExpiresAt:  time.Now().Add(30 * time.Minute).Truncate(time.Millisecond),
	}
}

func TestTokenStore(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := handles(t)()
			s := subscribers(t, db)
			issue := func(tok models.Token) {
				t.Helper()
				if err := s.IssueToken(ctx, tok); err != nil {
					t.Fatalf("IssueToken: %v", err)
				}
			}
			// consumed reports whether the token could be consumed.
			consumed := func(tok models.Token) bool {
				t.Helper()
				got, err := s.ConsumeToken(ctx, tok.Hash, tok.Purpose)
				if errors.Is(err, models.ErrTokenNotFound) {
					return false
				}
				if err != nil {
					t.Fatalf("ConsumeToken: %v", err)
				}
				if !got.ExpiresAt.Equal(tok.ExpiresAt) {
					t.Errorf("expiry %v, issued %v", got.ExpiresAt, tok.ExpiresAt)
				}
				got.ExpiresAt = tok.ExpiresAt
				if got != tok {
					t.Errorf("consumed %+v, issued %+v", got, tok)
				}
				return true
			}

			// Single use; found only under its purpose.
			a := token(1, "1", "password_reset")
			issue(a)
			var hash []byte // the table keeps the hash, as bytes
			if err := db.Table(subscriberTable + "_tokens").Select("hash").Row().Scan(&hash); err != nil || string(hash) != string(a.Hash[:]) {
				t.Errorf("stored hash %x, %v; want %x", hash, err, a.Hash)
			}
			wrong := a
			wrong.Purpose = "email_verify"
			if consumed(wrong) {
				t.Error("a token was found under another purpose")
			}
			if !consumed(a) {
				t.Error("an issued token was not found")
			}
			if consumed(a) {
				t.Error("a token was consumed twice")
			}

			// A newer token of the purpose voids the older; other purposes
			// and other users keep theirs.
			older, newer := token(2, "1", "password_reset"), token(3, "1", "password_reset")
			verify, others := token(4, "1", "email_verify"), token(5, "2", "password_reset")
			issue(older)
			issue(verify)
			issue(others)
			issue(newer)
			if consumed(older) {
				t.Error("a superseded token was consumed")
			}
			if !consumed(newer) || !consumed(verify) || !consumed(others) {
				t.Error("a token was lost to another purpose's or user's")
			}

			// An expired token is still returned: the caller judges expiry.
			expired := token(6, "1", "password_reset")
			expired.ExpiresAt = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
			issue(expired)
			if !consumed(expired) {
				t.Error("an expired token was not returned")
			}

			// DeleteTokens: one purpose, then every purpose, of one user.
			reset, verify := token(7, "1", "password_reset"), token(8, "1", "email_verify")
			others = token(9, "2", "password_reset")
			issue(reset)
			issue(verify)
			issue(others)
			if err := s.DeleteTokens(ctx, "1", "password_reset"); err != nil {
				t.Fatal(err)
			}
			if consumed(reset) {
				t.Error("DeleteTokens left the purpose's token")
			}
			issue(reset)
			if err := s.DeleteTokens(ctx, "1", ""); err != nil {
				t.Fatal(err)
			}
			if consumed(reset) || consumed(verify) {
				t.Error(`DeleteTokens(id, "") left a token`)
			}
			if !consumed(others) {
				t.Error("DeleteTokens deleted another user's token")
			}
			if err := s.DeleteTokens(ctx, "nobody", ""); err != nil {
				t.Errorf("DeleteTokens of a user without tokens: %v", err)
			}

			// What the table cannot keep as it is.
			for _, c := range []struct {
				name string
				edit func(*models.Token)
			}{
				{"no purpose", func(t *models.Token) { t.Purpose = "" }},
				{"a long purpose", func(t *models.Token) { t.Purpose = strings.Repeat("p", 65) }},
				{"no user", func(t *models.Token) { t.UserID = "" }},
				{"a long user ID", func(t *models.Token) { t.UserID = strings.Repeat("1", 192) }},
				{"a long address", func(t *models.Token) { t.Email = strings.Repeat("e", 255) }},
				{"a long credential", func(t *models.Token) { t.Credential = strings.Repeat("c", 129) }},
				{"no expiry", func(t *models.Token) { t.ExpiresAt = time.Time{} }},
			} {
				tok := token(10, "1", "password_reset")
				c.edit(&tok)
				if err := s.IssueToken(ctx, tok); !errors.Is(err, gormusers.ErrTokenField) {
					t.Errorf("IssueToken with %s = %v, want ErrTokenField", c.name, err)
				}
			}

			// Concurrent requests for one user and purpose leave one token.
			var wg sync.WaitGroup
			issued := make([]models.Token, 8)
			for i := range issued {
				issued[i] = token(100+i, "3", "password_reset")
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.IssueToken(ctx, issued[i]); err != nil {
						t.Errorf("concurrent IssueToken: %v", err)
					}
				}()
			}
			wg.Wait()
			n := 0
			for _, tok := range issued {
				if consumed(tok) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("after concurrent requests, %d tokens were kept, want 1", n)
			}
		})
	}
}

// Two instances of an application (two handles on one database) consume
// one token from many goroutines at once: exactly one gets it.
func TestConsumeTokenRace(t *testing.T) {
	const rounds, perHandle = 10, 6
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := handles(t)
			one := subscribers(t, open())
			two := gormusers.New[Subscriber](open())
			for round := range rounds {
				tok := token(round, fmt.Sprint(round), "password_reset")
				if err := one.IssueToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				start := make(chan struct{})
				wins, lost := 0, 0
				for i := range 2 * perHandle {
					s := one
					if i%2 == 1 {
						s = two
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						got, err := s.ConsumeToken(ctx, tok.Hash, tok.Purpose)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil && got.UserID == tok.UserID:
							wins++
						case errors.Is(err, models.ErrTokenNotFound):
							lost++
						default:
							t.Errorf("ConsumeToken = %+v, %v", got, err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if wins != 1 || lost != 2*perHandle-1 {
					t.Errorf("round %d: %d won, %d not found; want 1 and %d", round, wins, lost, 2*perHandle-1)
				}
			}
		})
	}
}
