// Package demo is sluice's built-in exporter: it generates realistic NetFlow v5, NetFlow v9,
// IPFIX and sFlow v5 traffic for `sluice demo`, for load tests and for end-to-end tests of the
// collector, and it accounts exactly for what it sent.
//
// The encoders are written from the specifications (RFC 3954, RFC 7011, the sFlow version 5
// specification and Cisco's NetFlow v5 record layout) and share no code with sluice's decoders
// or with goflow2. A test that decodes what this package encodes therefore compares two
// independent readings of each specification; tshark is the third reading (see the tests).
//
// Layers, from the bottom up:
//   - AppendNetFlow5, AppendNetFlow9, AppendIPFIX and AppendSFlow5 append one datagram holding
//     the given flows to a byte slice, allocation-free.
//   - Generator holds the simulated exporters (their sequence numbers, uptimes, templates and
//     interfaces) and a seeded traffic model; Generate and Flush hand every datagram, together
//     with the exact flows it carries, to a callback. No sockets are involved, so tests can
//     capture the datagrams byte for byte.
//   - Run paces a Generator at a flow rate and sends its datagrams over UDP, counting only what
//     was actually handed to the kernel.
package demo
