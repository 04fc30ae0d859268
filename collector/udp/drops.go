package udp

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// KernelDrops sums the "drops" column of /proc/net/udp and /proc/net/udp6
// for sockets bound to port: datagrams the kernel discarded because a
// socket's receive buffer was full. It returns 0 where /proc is unavailable.
func KernelDrops(port uint16) uint64 {
	var total uint64
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		total += kernelDropsIn(path, port)
	}
	return total
}

func kernelDropsIn(path string, port uint16) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseKernelDrops(data, port)
}

// parseKernelDrops reads the /proc/net/udp table: the second field is
// local_address as HEXADDR:HEXPORT, the last field is drops.
func parseKernelDrops(data []byte, port uint16) uint64 {
	var total uint64
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 13 {
			continue
		}
		local := fields[1]
		colon := bytes.LastIndexByte(local, ':')
		if colon < 0 {
			continue
		}
		p, err := strconv.ParseUint(string(local[colon+1:]), 16, 16)
		if err != nil || uint16(p) != port {
			continue
		}
		drops, err := strconv.ParseUint(string(fields[len(fields)-1]), 10, 64)
		if err == nil {
			total += drops
		}
	}
	return total
}
