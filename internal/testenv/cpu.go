package testenv

import (
	"testing"
	"time"
)

// CPUClock measures the process's CPU time (user and system, every thread)
// across a benchmark loop, where the platform can tell.
type CPUClock struct{ start time.Duration }

// StartCPU starts measuring.
func StartCPU() CPUClock { return CPUClock{processCPU()} }

// Report adds cpu-µs/op to b's results: the CPU time per iteration since
// StartCPU. Unlike ns/op it leaves out the time spent waiting for Redis or a
// database, and counts what other goroutines did for the iteration (the
// garbage collector's share, for one). Left out where the platform cannot
// tell.
func (c CPUClock) Report(b *testing.B) {
	if end := processCPU(); end > 0 && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
}
