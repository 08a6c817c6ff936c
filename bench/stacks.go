package main

import "net/http"

// stack is one way of serving the compared routes, POST /login and GET /me,
// with the same users and the same JSON.
type stack struct {
	// name is the stack's name on the command line and in the table.
	name string
	// about says in a few words what the stack is, for the progress lines.
	about string
	// handler builds a Go stack's routes inside the serve subcommand; it is
	// nil for the node stack, which runs under node (see stack_node.go).
	handler func(env serveEnv) (http.Handler, error)
}

// stacks are the compared stacks, in the order each round runs them.
var stacks = []stack{
	{name: "floor", about: "bare Gin, one Redis GET per request, no cookie", handler: floorHandler},
	{name: "ginauth", about: "ginauth on its Redis store, default MaxConcurrentHashes", handler: ginauthHandler(false)},
	{name: "ginauth-allcores", about: "ginauth, MaxConcurrentHashes = GOMAXPROCS", handler: ginauthHandler(true)},
	{name: "gincontrib", about: "Gin + gin-contrib/sessions on its Redis store", handler: gincontribHandler},
	{name: nodeStackName, about: "Express + express-session + Passport local + connect-redis"},
}

// findStack returns the stack called name.
func findStack(name string) (stack, bool) {
	for _, s := range stacks {
		if s.name == name {
			return s, true
		}
	}
	return stack{}, false
}

// stackNames lists the stacks' names in their running order.
func stackNames() []string {
	names := make([]string, len(stacks))
	for i, s := range stacks {
		names[i] = s.name
	}
	return names
}
