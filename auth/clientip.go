package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxies decides whose forwarding headers to believe.
type proxies []netip.Prefix

func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an IP address or CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// clientIP returns the client's address: the TCP peer, or, when the peer is
// a trusted proxy, the first address in X-Forwarded-For (read from the
// right) that is not a trusted proxy. Headers from anyone else are ignored,
// so a client cannot choose its own IP.
func (ps proxies) clientIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return ""
	}
	if len(ps) == 0 || !ps.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address we can vouch for
		}
		a = a.Unmap()
		if !ps.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

// https reports whether the request reached us over HTTPS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func (ps proxies) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer, ok := peerAddr(r)
	if !ok || !ps.trusted(peer) {
		return false
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = proto[:i] // the proxy nearest the client comes first
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
