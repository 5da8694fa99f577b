package proto

import (
	"flag"
	"os"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
)

// goldenPath is the descriptor of the last released contract. Consumers
// decode records with it, so every later version must stay wire- and
// JSON-compatible with it. Update it only when cutting a release:
//
//	go test ./ -run TestContractIsBackwardCompatible -update-golden
const goldenPath = "golden/liqstream.v1.json"

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden descriptor from the current contract")

func currentDescriptor() *descriptorpb.FileDescriptorProto {
	return protodesc.ToFileDescriptorProto(liqstreamv1.File_liqstream_v1_liquidation_proto)
}

func TestContractIsBackwardCompatible(t *testing.T) {
	cur := currentDescriptor()
	if *updateGolden {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(cur)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("reading the golden descriptor: %v", err)
	}
	var golden descriptorpb.FileDescriptorProto
	if err := protojson.Unmarshal(b, &golden); err != nil {
		t.Fatalf("parsing %s: %v", goldenPath, err)
	}
	for _, p := range BreakingChanges(&golden, cur) {
		t.Errorf("breaking change against the released contract: %s", p)
	}
}

// TestBreakingChangesAreDetected proves the check can fail: each mutation of
// the current contract is one a consumer would break on.
func TestBreakingChangesAreDetected(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *descriptorpb.FileDescriptorProto)
	}{
		{"field removed", func(f *descriptorpb.FileDescriptorProto) {
			m := msg(f, "LiquidationEvent")
			m.Field = m.Field[1:]
		}},
		{"field renumbered", func(f *descriptorpb.FileDescriptorProto) { msg(f, "LiquidationEvent").Field[0].Number = ptr(int32(99)) }},
		{"field renamed (JSON name changes)", func(f *descriptorpb.FileDescriptorProto) {
			fd := msg(f, "LiquidationEvent").Field[0]
			fd.Name, fd.JsonName = ptr("chain_ident"), ptr("chainIdent")
		}},
		{"field type changed", func(f *descriptorpb.FileDescriptorProto) {
			msg(f, "LiquidationEvent").Field[0].Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
		}},
		{"field made repeated", func(f *descriptorpb.FileDescriptorProto) {
			msg(f, "LiquidationEvent").Field[1].Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}},
		{"message removed", func(f *descriptorpb.FileDescriptorProto) { f.MessageType = f.MessageType[1:] }},
		{"enum value removed", func(f *descriptorpb.FileDescriptorProto) { f.EnumType[0].Value = f.EnumType[0].Value[:1] }},
		{"package changed", func(f *descriptorpb.FileDescriptorProto) { f.Package = ptr("liqstream.v2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := currentDescriptor()
			tt.mutate(changed)
			if got := BreakingChanges(currentDescriptor(), changed); len(got) == 0 {
				t.Fatal("mutation not reported as breaking")
			}
		})
	}
	t.Run("field added is compatible", func(t *testing.T) {
		changed := currentDescriptor()
		m := msg(changed, "LiquidationEvent")
		m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{Name: ptr("new_field"), JsonName: ptr("newField"), Number: ptr(int32(1000)),
			Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
		if got := BreakingChanges(currentDescriptor(), changed); len(got) != 0 {
			t.Fatalf("an added field was reported as breaking: %v", got)
		}
	})
}

func msg(f *descriptorpb.FileDescriptorProto, name string) *descriptorpb.DescriptorProto {
	for _, m := range f.MessageType {
		if m.GetName() == name {
			return m
		}
	}
	panic("no message " + name)
}

func ptr[T any](v T) *T { return &v }
