//go:build !race

package session

// raceEnabled: the race detector drops a share of what goes into a
// sync.Pool on purpose, so allocation counts are not the program's.
const raceEnabled = false
