//go:build !unix

package testenv

import "time"

// processCPU returns 0: the platform does not tell.
func processCPU() time.Duration { return 0 }
