package rpc

import (
	"net/url"
	"strings"
)

// minKeyPart is the shortest URL part keyParts treats as a possible key:
// provider keys are 20 to 64 characters, while shorter parts are words
// ("v2", "mainnet") whose masking would garble error texts.
const minKeyPart = 12

// keyParts returns the parts of pu that may be an API key on their own: path
// segments, query values, the user name and password, each at least
// minKeyPart long, decoded and as written. An endpoint's error text may echo
// one of them without the rest of the URL ("invalid API key <key>"), so
// they are scrubbed too.
func keyParts(pu *url.URL) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minKeyPart {
			out = append(out, s)
		}
	}
	for _, seg := range strings.Split(pu.EscapedPath(), "/") {
		add(seg)
		if dec, err := url.PathUnescape(seg); err == nil && dec != seg {
			add(dec)
		}
	}
	for _, vs := range pu.Query() {
		for _, v := range vs {
			add(v)
			add(url.QueryEscape(v))
		}
	}
	if pu.User != nil {
		add(pu.User.Username())
		if p, ok := pu.User.Password(); ok {
			add(p)
		}
	}
	return out
}
