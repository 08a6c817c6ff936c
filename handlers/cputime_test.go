package handlers_test

import (
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user and system, every thread)
// across a benchmark loop, where the platform can tell (processCPU).
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{processCPU()} }

// report adds cpu-µs/op, the CPU time per iteration since startCPU, where
// the platform can tell.
func (c cpuClock) report(b *testing.B) {
	if end := processCPU(); end > 0 && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
}
