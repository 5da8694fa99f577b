package rpc

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeAnswers parses a single answer or a batch answer into n responses
// ordered by id 1..n. A response's Result is a sub-slice of raw (raw must
// not be modified while the responses are in use).
//
// It is a single pass over raw and accepts exactly what encoding/json into
// the wire struct {jsonrpc string; id, result json.RawMessage; error
// *JSONError} accepted, with the same outcome (a differential test and
// FuzzDecodeAnswers check this against that implementation):
//
//   - raw (trimmed of Unicode white space) is one JSON value: an array of
//     answers when it starts with '[', else one answer; an answer is an
//     object or null (all fields absent);
//   - "jsonrpc" must be a string or null; "id" and "result" may be any
//     value; "error" is decoded by encoding/json into *JSONError (a repeated
//     "error" object fills the same JSONError, null clears it); keys match
//     as in encoding/json (jsonscan.go), other keys are skipped;
//   - a malformed answer fails with ErrBadResponse before anything else is
//     judged; then, in order: more answers than requests, and per answer an
//     id that is not 1..n (for a single request with an error answered with
//     any other id, that error), an id answered twice, an answer with
//     neither result nor error; last a request left unanswered. These are
//     ErrBatchMismatch for a batch, ErrBadResponse for a single request. An
//     error object answering a whole batch is returned as it is.
func decodeAnswers(raw []byte, n int, batch bool) ([]response, error) {
	d := answersDecoder{scanner: scanner{buf: bytes.TrimSpace(raw)}, n: n, batch: batch}
	if len(d.buf) > 0 && d.buf[0] == '[' {
		return d.many()
	}
	return d.one()
}

// answersDecoder is decodeAnswers' state.
type answersDecoder struct {
	scanner
	n     int
	batch bool
}

// wireAnswer is one answer's fields as they are found.
type wireAnswer struct {
	id, result []byte // raw values; nil when absent
	err        *JSONError
}

// answerField identifies a key of an answer object.
type answerField uint8

const (
	afUnknown answerField = iota
	afJSONRPC
	afID
	afResult
	afError
)

var answerFieldNames = [...]string{afJSONRPC: "jsonrpc", afID: "id", afResult: "result", afError: "error"}

var answerFields = newFieldSet[answerField](answerFieldNames[:])

// many parses a batch answer.
func (d *answersDecoder) many() ([]response, error) {
	out := make([]response, d.n)
	// The first answer that does not fit its request; reported only once
	// the whole answer is known to be well-formed and not too long.
	var misfit error
	count := 0
	d.pos++ // '['
	d.ws()
	if d.next(']') {
		d.pos++
	} else {
		for {
			var a wireAnswer
			if err := d.answer(&a, 1); err != nil {
				return nil, badResponse("decoding batch answer (%d bytes): answer %d %v", len(d.buf), count, err)
			}
			count++
			if misfit == nil && count <= d.n {
				misfit = d.place(out, &a)
			}
			d.ws()
			if d.next(']') {
				d.pos++
				break
			}
			if !d.next(',') {
				return nil, badResponse("decoding batch answer (%d bytes): %v", len(d.buf),
					d.fail("%s after an answer, want , or ]", d.describe()))
			}
			d.pos++
			d.ws()
		}
	}
	if err := d.end("the batch answer"); err != nil {
		return nil, badResponse("decoding batch answer (%d bytes): %v", len(d.buf), err)
	}
	if count > d.n {
		return nil, mismatch(d.batch, "%d answers to a batch of %d requests", count, d.n)
	}
	if misfit != nil {
		return nil, misfit
	}
	if err := d.complete(out); err != nil {
		return nil, err
	}
	return out, nil
}

// one parses an answer that is not an array.
func (d *answersDecoder) one() ([]response, error) {
	var a wireAnswer
	err := d.answer(&a, 0)
	if err == nil {
		err = d.end("the answer")
	}
	if err != nil {
		return nil, badResponse("decoding answer (%d bytes): %v", len(d.buf), err)
	}
	if d.batch && a.err != nil && d.n > 0 {
		// Some nodes answer a whole batch with one error object (rate
		// limits, batch too large).
		return nil, a.err
	}
	out := make([]response, d.n)
	if err := d.place(out, &a); err != nil {
		return nil, err
	}
	if err := d.complete(out); err != nil {
		return nil, err
	}
	return out, nil
}

// answer parses one answer object (or null) into a; depth is the nesting
// around the object.
func (d *answersDecoder) answer(a *wireAnswer, depth int) error {
	if d.literal("null") {
		return nil
	}
	if !d.next('{') {
		return d.fail("%s, want an answer object or null", d.describe())
	}
	d.pos++
	d.ws()
	if d.next('}') {
		d.pos++
		return nil
	}
	for {
		k, err := d.key()
		if err != nil {
			return err
		}
		f := lookupAnswerField(k)
		if err := d.colon(); err != nil {
			return err
		}
		switch f {
		case afID:
			if a.id, err = d.rawValue(depth + 1); err != nil {
				return err
			}
		case afResult:
			if a.result, err = d.rawValue(depth + 1); err != nil {
				return err
			}
		case afError:
			at := d.pos
			v, err := d.rawValue(depth + 1)
			if err != nil {
				return err
			}
			// Rare: encoding/json gives the exact semantics (types,
			// merging into the JSONError of an earlier "error" key). e,
			// not a, escapes to the heap.
			e := a.err
			if err := json.Unmarshal(v, &e); err != nil {
				return &scanError{off: at, reason: "error object: " + err.Error()}
			}
			a.err = e
		case afJSONRPC:
			if d.next('"') {
				err = d.skipString()
			} else if !d.literal("null") {
				at := d.pos
				if err = d.skipValue(depth + 1); err == nil {
					err = &scanError{off: at, reason: "jsonrpc is not a string"}
				}
			}
			if err != nil {
				return err
			}
		default:
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
		}
		d.ws()
		if d.next('}') {
			d.pos++
			return nil
		}
		if !d.next(',') {
			return d.fail("%s in an answer, want , or }", d.describe())
		}
		d.pos++
		d.ws()
	}
}

func lookupAnswerField(k []byte) answerField {
	switch string(k) {
	case "jsonrpc":
		return afJSONRPC
	case "id":
		return afID
	case "result":
		return afResult
	case "error":
		return afError
	}
	return answerFields.lookupFolded(k)
}

// place puts answer a at its id in out, or says why it does not fit.
func (d *answersDecoder) place(out []response, a *wireAnswer) error {
	id, ok := answerID(a.id)
	if !ok || id < 1 || id > d.n {
		if !d.batch && d.n == 1 && a.err != nil {
			return a.err // e.g. a parse error answered with id null
		}
		return mismatch(d.batch, "answer with id %s, which was not requested (ids 1..%d)", truncate(string(a.id), 40), d.n)
	}
	if r := &out[id-1]; r.Err != nil || len(r.Result) > 0 {
		return mismatch(d.batch, "two answers with id %d", id)
	}
	if a.err != nil {
		out[id-1] = response{Err: a.err}
		return nil
	}
	if len(a.result) == 0 {
		return badResponse("answer %d has neither result nor error", id)
	}
	out[id-1] = response{Result: a.result}
	return nil
}

// complete checks that every request has its answer.
func (d *answersDecoder) complete(out []response) error {
	for i, r := range out {
		if r.Err == nil && len(r.Result) == 0 {
			return mismatch(d.batch, "no answer for request %d of %d", i+1, d.n)
		}
	}
	return nil
}

// answerID reads a raw id as strconv.Atoi would.
func answerID(raw []byte) (int, bool) {
	if len(raw) == 0 || len(raw) > 18 {
		id, err := strconv.Atoi(string(raw))
		return id, err == nil
	}
	id := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			id, err := strconv.Atoi(string(raw))
			return id, err == nil
		}
		id = id*10 + int(c-'0')
	}
	return id, true
}
