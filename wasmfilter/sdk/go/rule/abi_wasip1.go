//go:build wasip1

package rule

import "unsafe"

// Host functions of ABI v1 (wasmfilter/abi.go names them).

//go:wasmimport healthgate get_attr
func getAttr(key string, buf unsafe.Pointer, bufLimit uint32) uint64

//go:wasmimport healthgate get_config
func getConfig(buf unsafe.Pointer, bufLimit uint32) uint32

//go:wasmimport healthgate get_input
func getInput(buf unsafe.Pointer, bufLimit uint32) uint32

//go:wasmimport healthgate set_result
func setResult(json string) uint32

//go:wasmimport healthgate log_enabled
func logEnabled(level int32) uint32

//go:wasmimport healthgate log
func logMessage(level int32, msg string)

//go:wasmimport healthgate now_unix_ms
func nowUnixMilli() int64

//go:wasmexport healthgate_rule_abi_v1
func abiV1() {}

//go:wasmexport configure
func configureExport() int32 { return runConfigure() }

//go:wasmexport evaluate
func evaluate() int32 {
	if handler == nil {
		return int32(Deny)
	}
	return int32(handler())
}

// read calls a buf/buf_limit getter, growing the shared buffer once if the
// value did not fit.
func read(get func(buf unsafe.Pointer, limit uint32) uint64) (count int, b []byte) {
	for {
		var p unsafe.Pointer
		if len(buffer) > 0 {
			p = unsafe.Pointer(&buffer[0])
		}
		cl := get(p, uint32(len(buffer)))
		count, n := int(cl>>32), int(uint32(cl))
		if n <= len(buffer) {
			return count, buffer[:n]
		}
		buffer = make([]byte, n)
	}
}

func attr(key string) (int, []byte) {
	return read(func(p unsafe.Pointer, limit uint32) uint64 { return getAttr(key, p, limit) })
}

func config() []byte {
	_, b := read(func(p unsafe.Pointer, limit uint32) uint64 { return uint64(getConfig(p, limit)) })
	return b
}

func input() []byte {
	_, b := read(func(p unsafe.Pointer, limit uint32) uint64 { return uint64(getInput(p, limit)) })
	return b
}

func result(json []byte) bool {
	return setResult(unsafe.String(unsafe.SliceData(json), len(json))) == 0
}

func now() int64 { return nowUnixMilli() }

func logAt(level Level, msg string) {
	if logEnabled(int32(level)) != 0 {
		logMessage(int32(level), msg)
	}
}
