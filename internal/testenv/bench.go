package testenv

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchRequest serves req with h once per iteration of b, failing on any
// answer but 200, and reports allocations and cpu-µs/op beside ns/op.
func BenchRequest(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	cpu := StartCPU()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	cpu.Report(b)
}
