package main

import (
	"io"
	"sync"
	"testing"
)

// Instances that start at the same moment on an empty PostgreSQL database
// all come up: they create the tables in turn, not at once.
func TestConcurrentStartOnPostgres(t *testing.T) {
	for round := range 4 {
		env := map[string]string{
			"DATABASE_URL":   postgresSchemaURL(t),
			"SESSION_STORE":  "gorm",
			"SESSION_SECRET": "example-test-secret-0123456789abcdef",
		}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				a, err := newApp(cfg, io.Discard)
				if err == nil {
					a.close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: instance %d did not start: %v", round, i, err)
			}
		}
	}
}
