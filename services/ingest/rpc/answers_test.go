package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// wireResponse and stdlibDecodeAnswers are the encoding/json implementation
// decodeAnswers replaced: the reference of the differential tests.
type wireResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *JSONError      `json:"error"`
}

func stdlibDecodeAnswers(raw []byte, n int, batch bool) ([]response, error) {
	raw = bytes.TrimSpace(raw)
	var answers []wireResponse
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &answers); err != nil {
			return nil, badResponse("decoding batch answer (%d bytes): %v", len(raw), err)
		}
		if len(answers) > n {
			return nil, mismatch(batch, "%d answers to a batch of %d requests", len(answers), n)
		}
	} else {
		var one wireResponse
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, badResponse("decoding answer (%d bytes): %v", len(raw), err)
		}
		if batch && one.Error != nil && n > 0 {
			return nil, one.Error
		}
		answers = []wireResponse{one}
	}
	out := make([]response, n)
	got := make([]bool, n)
	for _, a := range answers {
		id, err := strconv.Atoi(string(a.ID))
		if err != nil || id < 1 || id > n {
			if !batch && n == 1 && a.Error != nil {
				return nil, a.Error
			}
			return nil, mismatch(batch, "answer with id %s, which was not requested (ids 1..%d)", truncate(string(a.ID), 40), n)
		}
		if got[id-1] {
			return nil, mismatch(batch, "two answers with id %d", id)
		}
		got[id-1] = true
		if a.Error != nil {
			out[id-1] = response{Err: a.Error}
			continue
		}
		if len(a.Result) == 0 {
			return nil, badResponse("answer %d has neither result nor error", id)
		}
		out[id-1] = response{Result: a.Result}
	}
	for i, ok := range got {
		if !ok {
			return nil, mismatch(batch, "no answer for request %d of %d", i+1, n)
		}
	}
	return out, nil
}

// decodePrefix returns the part of a "decoding … (N bytes): reason" error
// before the reason, or "" for any other error.
func decodePrefix(err error) string {
	msg := err.Error()
	if !strings.Contains(msg, ": decoding batch answer (") && !strings.Contains(msg, ": decoding answer (") {
		return ""
	}
	if i := strings.Index(msg, "bytes): "); i >= 0 {
		return msg[:i+len("bytes): ")]
	}
	return ""
}

// sameError says how two errors of the answer decoders differ, "" when
// they agree: both nil, or the same kind (ErrBadResponse, ErrBatchMismatch,
// an equal *JSONError answered by the node) and the same text, except that
// the reason of a malformed answer is worded by each decoder.
func sameError(want, got error) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil || got == nil:
		return fmt.Sprintf("error %v, want %v", got, want)
	}
	for _, s := range []error{ErrBadResponse, ErrBatchMismatch} {
		if errors.Is(want, s) != errors.Is(got, s) {
			return fmt.Sprintf("error %q, want %q (errors.Is %v differs)", got, want, s)
		}
	}
	var wj, gj *JSONError
	if errors.As(want, &wj) != errors.As(got, &gj) || (wj != nil && !reflect.DeepEqual(wj, gj)) {
		return fmt.Sprintf("error %#v, want %#v", got, want)
	}
	if p := decodePrefix(want); p != "" {
		if !strings.HasPrefix(got.Error(), p) {
			return fmt.Sprintf("error %q, want one starting %q", got, p)
		}
		return ""
	}
	if got.Error() != want.Error() {
		return fmt.Sprintf("error %q, want %q", got, want)
	}
	return ""
}

// checkAnswers fails unless decodeAnswers and the reference agree on
// (input, n, batch).
func checkAnswers(t testing.TB, in []byte, n int, batch bool) {
	t.Helper()
	want, werr := stdlibDecodeAnswers(bytes.Clone(in), n, batch)
	got, gerr := decodeAnswers(bytes.Clone(in), n, batch)
	if d := sameError(werr, gerr); d != "" {
		t.Fatalf("n=%d batch=%v: %s\ninput %q", n, batch, d, truncate(string(in), 2000))
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("n=%d batch=%v: responses differ\n got %s\nwant %s\ninput %q", n, batch, showResponses(got), showResponses(want), truncate(string(in), 2000))
	}
}

func showResponses(rs []response) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("{%q %+v}", r.Result, r.Err)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestDecodeAnswersCases(t *testing.T) {
	ok := func(id, result string) string { return `{"jsonrpc":"2.0","id":` + id + `,"result":` + result + `}` }
	fail := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32000,"message":"execution reverted","data":"0x08c379a0"}}`
	}
	hdr := `{"number":"0x1","hash":"0x` + strings.Repeat("ab", 32) + `","transactions":[],"x":{"y":[1,2.5e-3,null,true,"\u00e9"]}}`
	tests := []struct {
		name  string
		in    string
		n     int
		batch bool
		want  string // "" accepted, else a substring of the error
	}{
		{"single", ok("1", `"0x10"`), 1, false, ""},
		{"single null result", ok("1", `null`), 1, false, ""},
		{"single error", fail("1"), 1, false, ""},
		{"single error id null", fail("null"), 1, false, "execution reverted"},
		{"single result id null", ok("null", `"0x1"`), 1, false, "answer with id null, which was not requested (ids 1..1)"},
		{"single answer as array", "[" + ok("1", "1") + "]", 1, false, ""},
		{"single id 2", ok("2", "1"), 1, false, "answer with id 2"},
		{"single id string", ok(`"1"`, "1"), 1, false, `answer with id "1"`},
		{"single id 1.0", ok("1.0", "1"), 1, false, "answer with id 1.0"},
		{"single id 1e0", ok("1e0", "1"), 1, false, "answer with id 1e0"},
		{"single id -1", ok("-1", "1"), 1, false, "answer with id -1"},
		{"single id huge", ok("123456789012345678901234567890", "1"), 1, false, "answer with id 123456789012345678901234567890"},
		{"single id absent", `{"result":1}`, 1, false, "answer with id , which"},
		{"single null", `null`, 1, false, "answer with id , which"},
		{"single neither", `{"id":1}`, 1, false, "answer 1 has neither result nor error"},
		{"single error null", `{"id":1,"error":null}`, 1, false, "neither result nor error"},
		{"single empty error object", `{"id":1,"error":{}}`, 1, false, ""},
		{"batch", "[" + ok("1", hdr) + "," + ok("2", `"0x"`) + "]", 2, true, ""},
		{"batch out of order", "[" + ok("2", hdr) + "," + fail("1") + "]", 2, true, ""},
		{"batch whitespace", " \n\t[ " + ok("2", hdr) + " ,\r\n " + ok("1", "null") + " ] \n", 2, true, ""},
		{"unicode space trimmed", "\u00a0\v\f" + ok("1", "1") + "\u2028\u3000", 1, false, ""},
		{"empty batch answer, none asked", `[]`, 0, true, ""},
		{"empty batch answer", `[]`, 2, true, "no answer for request 1 of 2"},
		{"too many answers", "[" + ok("1", "1") + "," + ok("2", "1") + "," + ok("3", "1") + "]", 2, true, "3 answers to a batch of 2 requests"},
		{"too many beats bad id", "[" + ok("9", "1") + "," + ok("2", "1") + "," + ok("3", "1") + "]", 2, true, "3 answers to a batch of 2"},
		{"unrequested id", "[" + ok("1", "1") + "," + ok("7", "1") + "]", 2, true, "answer with id 7, which was not requested (ids 1..2)"},
		{"duplicate id", "[" + ok("1", "1") + "," + ok("1", "1") + "]", 2, true, "two answers with id 1"},
		{"duplicate errored id", "[" + fail("1") + "," + fail("1") + "]", 2, true, "two answers with id 1"},
		{"missing answer", "[" + ok("2", "1") + "]", 2, true, "no answer for request 1 of 2"},
		{"null element", "[" + ok("1", "1") + ",null]", 2, true, "answer with id , which"},
		{"number element", "[" + ok("1", "1") + ",1]", 2, true, "decoding batch answer"},
		{"whole batch error", `{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}`, 3, true, "rate limited"},
		{"whole batch result", ok("1", "1"), 2, true, "no answer for request 2 of 2"},
		{"malformed batch", "[" + ok("1", "1") + ",", 2, true, "decoding batch answer"},
		{"malformed single", ok("1", "1")[:10], 1, false, "decoding answer"},
		{"syntax error beats mismatch", "[" + ok("9", "1") + "," + ok("2", "01") + "]", 2, true, "decoding batch answer"},
		{"trailing garbage", ok("1", "1") + "x", 1, false, "decoding answer"},
		{"two values", ok("1", "1") + ok("1", "1"), 1, false, "decoding answer"},
		{"empty body", ``, 1, false, "decoding answer"},
		{"string body", `"hello"`, 1, false, "decoding answer"},
		{"html body", `<html>502</html>`, 1, false, "decoding answer"},
		{"jsonrpc null", `{"jsonrpc":null,"id":1,"result":1}`, 1, false, ""},
		{"jsonrpc absent", `{"id":1,"result":1}`, 1, false, ""},
		{"jsonrpc number", `{"jsonrpc":2,"id":1,"result":1}`, 1, false, "decoding answer"},
		{"jsonrpc object", `{"jsonrpc":{},"id":1,"result":1}`, 1, false, "decoding answer"},
		{"error string", `{"id":1,"error":"boom"}`, 1, false, "decoding answer"},
		{"error code string", `{"id":1,"error":{"code":"x","message":"m"}}`, 1, false, "decoding answer"},
		{"error code float", `{"id":1,"error":{"code":1.5,"message":"m"}}`, 1, false, "decoding answer"},
		{"error and result", `{"id":1,"result":1,"error":{"code":3,"message":"m"}}`, 1, false, ""},
		{"duplicate result last wins", `{"id":1,"result":1,"result":"two"}`, 1, false, ""},
		{"duplicate id last wins", `{"id":5,"result":1,"id":1}`, 1, false, ""},
		{"duplicate error merges", `{"id":1,"error":{"code":3,"message":"a","data":1},"error":{"message":"b"}}`, 1, false, ""},
		{"error null clears", `{"id":1,"result":2,"error":{"code":3},"error":null}`, 1, false, ""},
		{"case-insensitive keys", `{"JSONRPC":"2.0","ID":1,"Result":"0x1"}`, 1, false, ""},
		{"folded long s", `{"id":1,"re\u017fult":"0x1"}`, 1, false, ""},
		{"folded raw long s", "{\"id\":1,\"re\xc5\xbfult\":\"0x1\"}", 1, false, ""},
		{"escaped key", `{"\u0069d":1,"result":"0x1"}`, 1, false, ""},
		{"unknown fields", `{"id":1,"foo":[{"a":"b"},-0.5E+2],"result":1,"bar":null}`, 1, false, ""},
		{"invalid utf-8 in result", "{\"id\":1,\"result\":\"\xff\xfe\"}", 1, false, ""},
		{"invalid utf-8 key", "{\"id\":1,\"\xffresult\":1}", 1, false, "neither result nor error"},
		{"control char in string", "{\"id\":1,\"result\":\"a\x01\"}", 1, false, "decoding answer"},
		{"bad escape", `{"id":1,"result":"\x"}`, 1, false, "decoding answer"},
		{"leading zero", `{"id":01,"result":1}`, 1, false, "decoding answer"},
		{"nesting at encoding/json's limit", `{"id":1,"result":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, 1, false, ""},
		{"nesting past encoding/json's limit", `{"id":1,"result":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 1, false, "decoding answer"},
		{"batch nesting past the limit", `[{"id":1,"result":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}]`, 1, true, "decoding batch answer"},
		{"answers to no request", ok("1", "1"), 0, false, "answer with id 1, which was not requested (ids 1..0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAnswers([]byte(tt.in), tt.n, tt.batch)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			checkAnswers(t, []byte(tt.in), tt.n, tt.batch)
		})
	}
}

// TestDecodeAnswersResultsAreSubslices checks that results are not copied.
func TestDecodeAnswersResultsAreSubslices(t *testing.T) {
	in := []byte(`[{"jsonrpc":"2.0","id":2,"result":"0x2"},{"jsonrpc":"2.0","id":1,"result":{"a":1}}]`)
	rs, err := decodeAnswers(in, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`{"a":1}`, `"0x2"`} {
		r := rs[i].Result
		off := bytes.Index(in, []byte(want))
		if string(r) != want || &in[off] != &r[0] {
			t.Fatalf("result %d = %q, want the sub-slice %q of the body", i+1, r, want)
		}
	}
}

// randomAnswers builds a batch or single answer for n requests: mostly
// well-formed, with random spacing, key order and case, ids, results,
// errors, unknown fields, duplicates and, sometimes, one corruption.
func randomAnswers(rng *rand.Rand, n int) string {
	ws := func() string { return []string{"", "", "", " ", "\n\t", "\r\n  "}[rng.IntN(6)] }
	key := func(k string) string {
		switch rng.IntN(14) {
		case 0:
			k = strings.ToUpper(k)
		case 1:
			k = `\u00` + fmt.Sprintf("%02x", k[0]) + k[1:]
		case 2:
			k = strings.Replace(k, "s", "\u017f", 1) // folds to S
		case 3:
			k = strings.Replace(k, "s", `\u017f`, 1)
		}
		return `"` + k + `"`
	}
	value := func() string {
		switch rng.IntN(9) {
		case 0:
			return "null"
		case 1:
			return `"0x` + strings.Repeat("0a", rng.IntN(40)) + `"`
		case 2:
			return randomHeaderJSON(rng)
		case 3:
			return `[1,-2.5e+3,true,false,null,"x\u00e9\n",{"k":[]}]`
		case 4:
			return strconv.Itoa(rng.IntN(1000) - 500)
		case 5:
			return `{}`
		case 6:
			return "\"\xff\xfe\""
		default:
			return `"0x` + fmt.Sprintf("%x", rng.Uint64()) + `"`
		}
	}
	errObj := func() string {
		switch rng.IntN(16) {
		case 0:
			return "null"
		case 1:
			return `{"code":"x","message":"m"}`
		case 2:
			return `"boom"`
		case 3:
			return `{}`
		default:
			return fmt.Sprintf(`{"code":%d,"message":"execution reverted %d","data":%s}`, -32000-rng.IntN(20), rng.IntN(9), value())
		}
	}
	ids := rng.Perm(n)
	one := func(i int) string {
		if rng.IntN(60) == 0 {
			return []string{"null", "1", `"x"`, "[]"}[rng.IntN(4)]
		}
		id := strconv.Itoa(ids[i] + 1)
		switch rng.IntN(50) {
		case 0:
			id = "null"
		case 1:
			id = `"` + id + `"`
		case 2:
			id = strconv.Itoa(rng.IntN(n+3) - 1)
		case 3:
			id += ".0"
		case 4:
			id = "99999999999999999999"
		}
		var fields [][2]string
		if rng.IntN(6) != 0 {
			fields = append(fields, [2]string{"jsonrpc", []string{`"2.0"`, `"2.0"`, `"2.0"`, `"2.0"`, `"2.0"`, "null", `"1.0"`, "2"}[rng.IntN(8)]})
		}
		if rng.IntN(40) != 0 {
			fields = append(fields, [2]string{"id", id})
		}
		switch rng.IntN(20) {
		case 0:
			fields = append(fields, [2]string{"error", errObj()})
		case 1:
			fields = append(fields, [2]string{"error", errObj()}, [2]string{"result", value()})
		case 2: // neither
		default:
			fields = append(fields, [2]string{"result", value()})
		}
		if rng.IntN(4) == 0 {
			fields = append(fields, [2]string{"extra", value()})
		}
		rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		if len(fields) > 0 && rng.IntN(8) == 0 { // duplicate a key
			f := fields[rng.IntN(len(fields))]
			if f[0] == "error" {
				f[1] = errObj()
			} else {
				f[1] = value()
			}
			fields = append(fields, f)
		}
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = ws() + key(f[0]) + ws() + ":" + ws() + f[1] + ws()
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	var s string
	if n == 1 && rng.IntN(2) == 0 || rng.IntN(10) == 0 {
		s = one(0)
	} else {
		count := n
		switch rng.IntN(20) {
		case 0:
			count = n + 1
		case 1:
			count = max(0, n-1)
		}
		items := make([]string, count)
		for i := range items {
			items[i] = ws() + one(i%n) + ws()
		}
		if rng.IntN(20) == 0 && count > 1 { // repeat an answer
			items[rng.IntN(count)] = items[0]
		}
		s = "[" + strings.Join(items, ",") + "]"
	}
	s = []string{"", "", " ", "\n", "\u00a0", "\v"}[rng.IntN(6)] + s + []string{"", "", " \r\n", "\u3000"}[rng.IntN(4)]
	if rng.IntN(6) == 0 { // corrupt one byte
		i := rng.IntN(len(s))
		const junk = "0x\"{}[],:gG \\n1-."
		s = s[:i] + string(junk[rng.IntN(len(junk))]) + s[i+1:]
	}
	return s
}

// TestDecodeAnswersDifferentialRandom compares decodeAnswers with the
// reference on seeded random, partly malformed answers.
func TestDecodeAnswersDifferentialRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 11))
	// Every outcome must come up: the generator reaches every path.
	outcomes := map[string]int{}
	const runs = 5000
	for range runs {
		n := 1 + rng.IntN(5)
		in := []byte(randomAnswers(rng, n))
		batch := rng.IntN(5) != 0 || n > 1
		checkAnswers(t, in, n, batch)
		_, err := decodeAnswers(in, n, batch)
		outcomes[answerOutcome(err)]++
	}
	t.Logf("outcomes of %d random answers: %v", runs, outcomes)
	for _, o := range []string{"accepted", "malformed", "json-rpc error", "too many", "not requested", "twice", "neither", "unanswered"} {
		if outcomes[o] == 0 {
			t.Errorf("no random answer was %s: the generator no longer reaches that path", o)
		}
	}
	if outcomes["accepted"] < runs/5 || outcomes["accepted"] > runs*4/5 {
		t.Errorf("%d of %d answers accepted: the generator no longer mixes valid and invalid input", outcomes["accepted"], runs)
	}
}

// answerOutcome names what decodeAnswers made of an answer.
func answerOutcome(err error) string {
	var je *JSONError
	switch {
	case err == nil:
		return "accepted"
	case decodePrefix(err) != "":
		return "malformed"
	case errors.As(err, &je):
		return "json-rpc error"
	}
	for _, o := range []struct{ text, name string }{{"answers to a batch", "too many"}, {"which was not requested", "not requested"},
		{"two answers", "twice"}, {"neither result nor error", "neither"}, {"no answer for request", "unanswered"}} {
		if strings.Contains(err.Error(), o.text) {
			return o.name
		}
	}
	return "other: " + err.Error()
}

// FuzzDecodeAnswers: decodeAnswers never panics and agrees with the
// encoding/json reference on every input: the same responses, or errors of
// the same kind and text (only the reason for a malformed answer is worded
// differently). There are no documented exceptions: decodeAnswers accepts
// exactly what the reference accepts.
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`), uint8(1), false)
	f.Add([]byte(`[{"jsonrpc":"2.0","id":2,"result":null},{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"m","data":"0x"}}]`), uint8(2), true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate"}}`), uint8(3), true)
	f.Add([]byte(`[{"ID":1,"re\u017fult":{"a":[1,2,{"b":null}]},"x":-1.5e3},null]`), uint8(2), true)
	f.Add([]byte(`[]`), uint8(0), true)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		n := 1 + rng.IntN(4)
		f.Add([]byte(randomAnswers(rng, n)), uint8(n), rng.IntN(4) != 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, n uint8, batch bool) {
		checkAnswers(t, in, int(n%8), batch)
	})
}
