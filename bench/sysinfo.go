package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type machineInfo struct {
	CPUs   int
	Model  string
	Memory string
	Kernel string
}

func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), Model: "unknown", Memory: "unknown", Kernel: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.Model = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil {
			m.Memory = strconv.FormatFloat(float64(kb)/(1<<20), 'f', 1, 64) + " GiB"
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// procField is the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rssInfo is one process's resident memory, in KiB.
type rssInfo struct {
	Name     string
	PID      int
	RSS, HWM int64
}

// processRSS reads VmRSS (now) and VmHWM (peak) of Vault and of every
// process Vault started (its plugins), named by their executable.
func processRSS(vaultPID int) []rssInfo {
	var out []rssInfo
	if r, ok := readRSS(vaultPID); ok {
		out = append(out, r)
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == vaultPID || parentPID(pid) != vaultPID {
			continue
		}
		if r, ok := readRSS(pid); ok {
			out = append(out, r)
		}
	}
	return out
}

func parentPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

func readRSS(pid int) (rssInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	exe, err := os.Readlink(dir + "/exe")
	if err != nil {
		return rssInfo{}, false
	}
	kb := func(key string) int64 {
		v := procField(dir+"/status", key)
		if f := strings.Fields(v); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n
		}
		return 0
	}
	return rssInfo{Name: filepath.Base(strings.TrimSuffix(exe, " (deleted)")), PID: pid, RSS: kb("VmRSS"), HWM: kb("VmHWM")}, true
}

// userHZ is the unit of utime/stime in /proc/<pid>/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// cpuTime is the CPU time (user + system, all threads, exited ones
// included) a process has used so far, to 10 ms; 0 when unknown.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// After "pid (comm)": state is field 3, utime 14, stime 15.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / userHZ
}

// childPID is the pid of the process Vault started from the executable
// named name (a plugin), or 0.
func childPID(vaultPID int, name string) int {
	for _, p := range processRSS(vaultPID) {
		if p.PID != vaultPID && p.Name == name {
			return p.PID
		}
	}
	return 0
}

// machineBusy is the CPU time all CPUs spent busy since boot (user,
// nice, system, irq, softirq, steal in /proc/stat's "cpu" line), to 10 ms;
// 0 when unknown.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ
}
