package hexenc

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestAppendEncodeMatchesEncodingHex(t *testing.T) {
	r := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 1))
	for n := range 600 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		prefix := []byte("0x")[:r.IntN(3)]
		want := hex.AppendEncode(bytes.Clone(prefix), src)
		if got := AppendEncode(bytes.Clone(prefix), src); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes after %q: %q, want %q", n, prefix, got, want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if got, want := AppendEncode(nil, all), hex.AppendEncode(nil, all); !bytes.Equal(got, want) {
		t.Fatalf("every byte value: %q, want %q", got, want)
	}
}

func TestAppendEncodeKeepsDst(t *testing.T) {
	dst := make([]byte, 2, 64)
	dst[0], dst[1] = 'a', 'b'
	got := AppendEncode(dst, []byte{0xde, 0xad})
	if string(got) != "abdead" {
		t.Fatalf("%q", got)
	}
}

func FuzzAppendEncode(f *testing.F) {
	f.Add([]byte("0x"), []byte{0, 1, 0xfe, 0xff})
	f.Add([]byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, dst, src []byte) {
		want := hex.AppendEncode(bytes.Clone(dst), src)
		if got := AppendEncode(bytes.Clone(dst), src); !bytes.Equal(got, want) {
			t.Fatalf("%q + %x: %q, want %q", dst, src, got, want)
		}
	})
}

func BenchmarkAppendEncode(b *testing.B) {
	src := make([]byte, 600) // an aggregate3 calldata
	for i := range src {
		src[i] = byte(i * 7)
	}
	buf := make([]byte, 0, 2*len(src))
	b.Run("encoding_hex", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			buf = hex.AppendEncode(buf[:0], src)
		}
	})
	b.Run("hexenc", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			buf = AppendEncode(buf[:0], src)
		}
	})
}
