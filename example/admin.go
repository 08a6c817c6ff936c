package main

import (
	"fmt"
	"io"
)

// admin runs an operator's command and returns the process's exit code.
func admin(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "unknown command %q\n", args[0])
	return 2
}
