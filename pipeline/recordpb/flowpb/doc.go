// Package flowpb is the protoc-gen-go code for sluice's published record
// schema, ../flow.proto. It is the reference a third party would generate, and
// sluice's tests check the hand-written codec in pipeline/recordpb against it;
// sluice itself does not use it to encode or decode. Regenerate it with
// `go generate ./pipeline/recordpb`.
package flowpb
