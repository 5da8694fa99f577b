package sim

import (
	"encoding/json"
	"sync"
)

// The fast request path. encoding/json reads a batch three times over
// (the batch, each request, its params) and validates each byte again every
// time; reqScanner reads the body once, validating it as encoding/json's
// checkValid does, and splits each request into its id, method and params
// elements, as sub-slices of the body. It only claims what it is sure to
// read as encoding/json does: any body or element outside that shape goes to
// the encoding/json path (serveSlow, serveOne), which also writes the error
// answers, so answers are byte for byte the same (TestFastPathMatchesSlow,
// FuzzServe).

// scannedReq is one request of a scanned body.
type scannedReq struct {
	// raw is the element as json.Unmarshal into []json.RawMessage yields it.
	raw []byte
	// slow: the element is valid JSON but not of the shape below; serveOne
	// answers raw.
	slow bool
	// id is the raw id (a number, a string or null); nil when absent.
	id []byte
	// method is a non-empty printable-ASCII name without escapes.
	method string
	// params are the elements of the params array; nil when absent or null.
	params []json.RawMessage
	// psLo and psHi delimit params in reqScanner.ps until fixParams.
	psLo, psHi int
}

// reqScanner scans one body; it is reused through scannerPool.
type reqScanner struct {
	b    []byte
	i    int
	reqs []scannedReq
	ps   []json.RawMessage // backing store of every request's params
	// err is set when the body is not valid JSON or too deep to be sure.
	err bool
}

var scannerPool = sync.Pool{New: func() any { return new(reqScanner) }}

// release drops the references to the body and returns sc to the pool.
func (sc *reqScanner) release() {
	clear(sc.reqs)
	clear(sc.ps)
	sc.b, sc.reqs, sc.ps = nil, sc.reqs[:0], sc.ps[:0]
	scannerPool.Put(sc)
}

// maxScanDepth bounds nesting; deeper bodies (valid or not) take the slow
// path, which applies encoding/json's own limit.
const maxScanDepth = 512

// scan splits a trimmed body. ok is false when the slow path must answer the
// whole body: it is not valid JSON, not an object or a non-empty array, or
// (for a single request) not of the fast shape.
func (sc *reqScanner) scan(b []byte) (batch, ok bool) {
	sc.b, sc.i, sc.reqs, sc.ps, sc.err = b, 0, sc.reqs[:0], sc.ps[:0], false
	if len(b) == 0 {
		return false, false
	}
	switch b[0] {
	case '{':
		r, fast := sc.request()
		if sc.err || !fast || sc.i != len(b) {
			return false, false
		}
		sc.reqs = append(sc.reqs, r)
		sc.fixParams()
		return false, true
	case '[':
		sc.i++
		sc.ws()
		if sc.i < len(b) && b[sc.i] == ']' {
			return true, false // the slow path answers an empty batch
		}
		for {
			start := sc.i
			var r scannedReq
			fast := false
			if sc.i < len(b) && b[sc.i] == '{' {
				r, fast = sc.request()
			}
			if sc.err {
				return true, false
			}
			if !fast {
				sc.i = start
				sc.value(1)
				if sc.err {
					return true, false
				}
				r = scannedReq{raw: b[start:sc.i], slow: true}
			}
			sc.reqs = append(sc.reqs, r)
			sc.ws()
			if sc.i >= len(b) {
				return true, false
			}
			switch b[sc.i] {
			case ',':
				sc.i++
				sc.ws()
				continue
			case ']':
				sc.i++
				if sc.i != len(b) {
					return true, false
				}
				sc.fixParams()
				return true, true
			}
			return true, false
		}
	}
	return false, false
}

// fixParams turns the params ranges recorded during the scan into slices
// of sc.ps, which may have moved while growing.
func (sc *reqScanner) fixParams() {
	for i := range sc.reqs {
		if r := &sc.reqs[i]; r.psHi > r.psLo {
			r.params = sc.ps[r.psLo:r.psHi:r.psHi]
		}
	}
}

// known request keys.
const (
	keyOther = iota
	keyJSONRPC
	keyID
	keyMethod
	keyParams
)

// request reads one request object at sc.i. fast is false when the object
// is not of the fast shape (the caller rescans it as a plain value): a
// key other than the four that folds to one of them, an escaped or
// non-ASCII key, a key twice, a jsonrpc that is not a string, an id that is
// not a number, string or null, a method that is not a plain non-empty
// string, params that are not an array or null.
func (sc *reqScanner) request() (r scannedReq, fast bool) {
	b := sc.b
	start := sc.i
	sc.i++ // {
	sc.ws()
	var seen [5]bool
	psLo, psHi := -1, -1
	if sc.i < len(b) && b[sc.i] == '}' {
		sc.i++
		return r, false // no method
	}
	for {
		if sc.i >= len(b) || b[sc.i] != '"' {
			sc.err = true
			return r, false
		}
		kStart := sc.i + 1
		plain := sc.str()
		if sc.err {
			return r, false
		}
		key := b[kStart : sc.i-1]
		if !plain {
			return r, false
		}
		k := keyOf(key)
		if k < 0 || seen[k] && k != keyOther {
			return r, false
		}
		seen[k] = true
		sc.ws()
		if sc.i >= len(b) || b[sc.i] != ':' {
			sc.err = true
			return r, false
		}
		sc.i++
		sc.ws()
		if sc.i >= len(b) {
			sc.err = true
			return r, false
		}
		vStart := sc.i
		switch k {
		case keyJSONRPC:
			if b[sc.i] != '"' {
				return r, false
			}
			sc.str()
		case keyID:
			switch c := b[sc.i]; {
			case c == '"':
				sc.str()
			case c == 'n':
				sc.lit("null")
			case c == '-' || c >= '0' && c <= '9':
				sc.num()
			default:
				return r, false
			}
			r.id = b[vStart:sc.i]
		case keyMethod:
			if b[sc.i] != '"' {
				return r, false
			}
			plain := sc.str()
			if sc.err || !plain || sc.i-vStart == 2 {
				return r, false
			}
			r.method = methodName(b[vStart+1 : sc.i-1])
		case keyParams:
			switch b[sc.i] {
			case 'n':
				sc.lit("null")
			case '[':
				psLo = len(sc.ps)
				sc.params()
				psHi = len(sc.ps)
			default:
				return r, false
			}
		default:
			sc.value(1)
		}
		if sc.err {
			return r, false
		}
		sc.ws()
		if sc.i >= len(b) {
			sc.err = true
			return r, false
		}
		if b[sc.i] == ',' {
			sc.i++
			sc.ws()
			continue
		}
		if b[sc.i] != '}' {
			sc.err = true
			return r, false
		}
		sc.i++
		break
	}
	if r.method == "" {
		return r, false
	}
	r.raw = b[start:sc.i]
	r.psLo, r.psHi = psLo, psHi // fixParams makes them a slice
	return r, true
}

// keyOf classifies a plain (unescaped, ASCII) key: one of the four, other,
// or -1 for a key encoding/json would match to one of the four by case
// folding.
func keyOf(k []byte) int {
	switch string(k) {
	case "jsonrpc":
		return keyJSONRPC
	case "id":
		return keyID
	case "method":
		return keyMethod
	case "params":
		return keyParams
	}
	for _, known := range [...]string{"jsonrpc", "id", "method", "params"} {
		if len(k) == len(known) && foldASCII(k, known) {
			return -1
		}
	}
	return keyOther
}

func foldASCII(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// methods interns the served method names, so that reading one allocates
// nothing.
var methods = func() map[string]string {
	m := map[string]string{}
	for _, name := range servedMethods[:mOther] {
		m[name] = name
	}
	return m
}()

func methodName(b []byte) string {
	if m, ok := methods[string(b)]; ok {
		return m
	}
	return string(b)
}

// params reads a params array at sc.i, appending its elements to sc.ps.
func (sc *reqScanner) params() {
	b := sc.b
	sc.i++ // [
	sc.ws()
	if sc.i < len(b) && b[sc.i] == ']' {
		sc.i++
		return
	}
	for {
		start := sc.i
		sc.value(2)
		if sc.err {
			return
		}
		sc.ps = append(sc.ps, b[start:sc.i])
		sc.ws()
		if sc.i >= len(b) {
			sc.err = true
			return
		}
		switch b[sc.i] {
		case ',':
			sc.i++
			sc.ws()
			continue
		case ']':
			sc.i++
			return
		}
		sc.err = true
		return
	}
}

// ws skips JSON whitespace.
func (sc *reqScanner) ws() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// more reads what follows a member or an element of an object or array
// that ends with end: a comma (true: another one follows) or end (false:
// the container is closed). Anything else sets sc.err and returns false.
func (sc *reqScanner) more(end byte) bool {
	sc.ws()
	if sc.err || sc.i >= len(sc.b) {
		sc.err = true
		return false
	}
	switch sc.b[sc.i] {
	case ',':
		sc.i++
		sc.ws()
		return true
	case end:
		sc.i++
		return false
	}
	sc.err = true
	return false
}

// value validates one JSON value at sc.i (nested depth levels deep) and
// moves past it.
func (sc *reqScanner) value(depth int) {
	b := sc.b
	if sc.i >= len(b) || depth > maxScanDepth {
		sc.err = true
		return
	}
	switch c := b[sc.i]; {
	case c == '"':
		sc.str()
	case c == '{':
		sc.i++
		sc.ws()
		if sc.i < len(b) && b[sc.i] == '}' {
			sc.i++
			return
		}
		for {
			if sc.i >= len(b) || b[sc.i] != '"' {
				sc.err = true
				return
			}
			sc.str()
			sc.ws()
			if sc.err || sc.i >= len(b) || b[sc.i] != ':' {
				sc.err = true
				return
			}
			sc.i++
			sc.ws()
			sc.value(depth + 1)
			if !sc.more('}') {
				return
			}
		}
	case c == '[':
		sc.i++
		sc.ws()
		if sc.i < len(b) && b[sc.i] == ']' {
			sc.i++
			return
		}
		for {
			sc.value(depth + 1)
			if !sc.more(']') {
				return
			}
		}
	case c == 't':
		sc.lit("true")
	case c == 'f':
		sc.lit("false")
	case c == 'n':
		sc.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		sc.num()
	default:
		sc.err = true
	}
}

// str validates a string at sc.i (on its opening quote) and moves past it.
// plain reports that it holds only printable ASCII and no escapes.
func (sc *reqScanner) str() (plain bool) {
	b := sc.b
	plain = true
	i := sc.i + 1
	for i < len(b) {
		c := b[i]
		if plainByte[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			sc.i = i + 1
			return plain
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				sc.err = true
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					sc.err = true
					return false
				}
				i += 6
			default:
				sc.err = true
				return false
			}
		case c < 0x20:
			sc.err = true
			return false
		default:
			if c >= 0x7f {
				plain = false
			}
			i++
		}
	}
	sc.err = true
	return false
}

// plainByte marks the bytes a plain string holds: printable ASCII but the
// quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lit validates the literal word at sc.i.
func (sc *reqScanner) lit(word string) {
	if len(sc.b)-sc.i < len(word) || string(sc.b[sc.i:sc.i+len(word)]) != word {
		sc.err = true
		return
	}
	sc.i += len(word)
}

// num validates a number at sc.i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (sc *reqScanner) num() {
	b := sc.b
	i := sc.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		sc.err = true
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			sc.err = true
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			sc.err = true
			return
		}
	}
	sc.i = i
}
