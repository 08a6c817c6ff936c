package session

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxies decides whose forwarding headers to believe.
type proxies struct {
	nets []netip.Prefix
	unix bool // a peer on a Unix socket is a trusted proxy
}

// TrustUnixSocket is the TrustedProxies entry that trusts a peer on a Unix
// socket: a reverse proxy that reaches the application through one.
const TrustUnixSocket = "unix"

func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == TrustUnixSocket {
			out.unix = true
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out.nets = append(out.nets, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return proxies{}, fmt.Errorf("trusted proxy %q is not an IP address, a CIDR range or %q", s, TrustUnixSocket)
		}
		out.nets = append(out.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the request's direct peer: its IP address, or none (ok false)
// when it has none, and whether it is a trusted proxy.
func (ps proxies) peer(r *http.Request) (a netip.Addr, ok, trusted bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a, true, ps.trusted(a)
	}
	return netip.Addr{}, false, ps.unix && onUnixSocket(r)
}

// onUnixSocket reports whether the request arrived on a Unix socket
// listener.
func onUnixSocket(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && (la.Network() == "unix" || la.Network() == "unixpacket")
}

// clientIP returns the client's address: the peer, or, when the peer is a
// trusted proxy, the first address in X-Forwarded-For (read from the right)
// that is not a trusted proxy. Headers from anyone else are ignored, so a
// client cannot choose its own IP. It returns "" when no address can be
// known: a peer that is not an IP (a Unix socket not trusted with
// TrustUnixSocket), or a trusted Unix socket peer that names no client.
func (ps proxies) clientIP(r *http.Request) string {
	peer, ok, trusted := ps.peer(r)
	if !trusted {
		if !ok {
			return ""
		}
		return peer.String()
	}
	last := ""
	if ok {
		last = peer.String()
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
		last = a.String()
	}
	return last
}

// https reports whether the request reached us over HTTPS: directly, or
// through a trusted proxy whose X-Forwarded-Proto says so. Of several
// values (proxies that append), the last is the one the nearest proxy set:
// the ones before it came from further away, the client included.
func (ps proxies) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if _, _, trusted := ps.peer(r); !trusted {
		return false
	}
	vals := r.Header.Values("X-Forwarded-Proto")
	if len(vals) == 0 {
		return false
	}
	proto := vals[len(vals)-1]
	if i := strings.LastIndexByte(proto, ','); i >= 0 {
		proto = proto[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
