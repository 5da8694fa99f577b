package proto

import (
	"fmt"

	"google.golang.org/protobuf/types/descriptorpb"
)

// BreakingChanges lists the changes from old to cur that break a consumer
// of old: a removed or renumbered field, a field whose name (and so JSON
// name), type, message type or cardinality changed, a removed message or
// enum value, a changed package. Added fields, messages and enum values are
// compatible and not listed.
func BreakingChanges(old, cur *descriptorpb.FileDescriptorProto) []string {
	var out []string
	if old.GetPackage() != cur.GetPackage() {
		out = append(out, fmt.Sprintf("package %q became %q", old.GetPackage(), cur.GetPackage()))
	}
	curMsgs := map[string]*descriptorpb.DescriptorProto{}
	for _, m := range cur.GetMessageType() {
		curMsgs[m.GetName()] = m
	}
	for _, om := range old.GetMessageType() {
		cm, ok := curMsgs[om.GetName()]
		if !ok {
			out = append(out, fmt.Sprintf("message %s removed", om.GetName()))
			continue
		}
		fields := map[int32]*descriptorpb.FieldDescriptorProto{}
		for _, f := range cm.GetField() {
			fields[f.GetNumber()] = f
		}
		for _, of := range om.GetField() {
			where := fmt.Sprintf("%s.%s (field %d)", om.GetName(), of.GetName(), of.GetNumber())
			cf, ok := fields[of.GetNumber()]
			switch {
			case !ok:
				out = append(out, where+" removed or renumbered")
			case cf.GetName() != of.GetName() || cf.GetJsonName() != of.GetJsonName():
				out = append(out, fmt.Sprintf("%s renamed to %s", where, cf.GetName()))
			case cf.GetType() != of.GetType() || cf.GetTypeName() != of.GetTypeName():
				out = append(out, fmt.Sprintf("%s changed type from %s%s to %s%s", where, of.GetType(), of.GetTypeName(), cf.GetType(), cf.GetTypeName()))
			case cf.GetLabel() != of.GetLabel():
				out = append(out, fmt.Sprintf("%s changed cardinality from %s to %s", where, of.GetLabel(), cf.GetLabel()))
			}
		}
	}
	curEnums := map[string]map[int32]string{}
	for _, e := range cur.GetEnumType() {
		vals := map[int32]string{}
		for _, v := range e.GetValue() {
			vals[v.GetNumber()] = v.GetName()
		}
		curEnums[e.GetName()] = vals
	}
	for _, oe := range old.GetEnumType() {
		vals, ok := curEnums[oe.GetName()]
		if !ok {
			out = append(out, fmt.Sprintf("enum %s removed", oe.GetName()))
			continue
		}
		for _, v := range oe.GetValue() {
			if name, ok := vals[v.GetNumber()]; !ok || name != v.GetName() {
				out = append(out, fmt.Sprintf("enum value %s.%s (%d) removed or renamed", oe.GetName(), v.GetName(), v.GetNumber()))
			}
		}
	}
	return out
}
