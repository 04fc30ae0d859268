package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// groupUsage is what the processes of one process group used: CPU seconds (user + system,
// their own and their waited-for children's) and memory (peak and current resident set).
type groupUsage struct {
	CPUSeconds float64
	PeakRSS    int64 // bytes, the sum of the processes' VmHWM
	RSS        int64 // bytes, the sum of the processes' VmRSS
	Processes  int
}

// usageOfGroup sums the usage of every live process whose process group is pgid, or whose
// pid is pgid: a collector and whatever it forked (pmacct runs a core and a plugin process),
// or a process that does not lead its group (the Kafka broker).
func usageOfGroup(pgid int) groupUsage {
	var u groupUsage
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces: fields count from the last ')'.
		end := bytes.LastIndexByte(stat, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(stat[end+2:]))
		// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, cutime 16, cstime 17.
		if len(f) < 15 {
			continue
		}
		if pg, _ := strconv.Atoi(f[2]); pg != pgid && pid != pgid {
			continue
		}
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
		u.CPUSeconds += float64(ticks) / clockTicks
		hwm, rss := memoryOf(pid)
		u.PeakRSS += hwm
		u.RSS += rss
		u.Processes++
	}
	return u
}

// memoryOf reads VmHWM and VmRSS of a process, in bytes.
func memoryOf(pid int) (hwm, rss int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		default:
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			*dst = kb << 10
		}
	}
	return hwm, rss
}

// udpSocket is one line of /proc/net/udp for a local port.
type udpSocket struct {
	rxQueue uint64 // bytes waiting to be read
	drops   uint64 // datagrams dropped because the receive buffer was full
}

// udpSockets sums the IPv4 and IPv6 sockets bound to port.
func udpSockets(port int) (s udpSocket, found bool) {
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) < 13 {
				continue
			}
			local := f[1]
			colon := strings.LastIndexByte(local, ':')
			p, err := strconv.ParseUint(local[colon+1:], 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			found = true
			if _, q, ok := strings.Cut(f[4], ":"); ok {
				v, _ := strconv.ParseUint(q, 16, 64)
				s.rxQueue += v
			}
			d, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
			s.drops += d
		}
	}
	return s, found
}

var receiveBufferRE = regexp.MustCompile(`rb(\d+)`)

// receiveBuffer is the receive buffer the kernel gave the sockets bound to port (ss's skmem
// rb, which counts what SO_RCVBUF asked for twice, as Linux does): the figure that makes
// buffers comparable across collectors. 0 when unknown.
func receiveBuffer(port int) int64 {
	out, err := exec.Command("ss", "-uamnH", "sport", "=", ":"+strconv.Itoa(port)).Output()
	if err != nil {
		return 0
	}
	m := receiveBufferRE.FindSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}
