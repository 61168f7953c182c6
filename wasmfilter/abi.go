package wasmfilter

// ABI v1 of healthgate rules: the names and codes a guest and the host agree
// on. This file does not import the runtime, so SDKs and tools can share it
// (the layout of http-wasm-host-go's api/handler/wasm.go).
//
// A rule exports memory, the marker ExportABIMarker and ExportEvaluate, and
// may export ExportConfigure and, for toolchains that emit one,
// ExportInitialize. It imports only functions of ImportModule and, if it
// needs them, of the WASI preview 1 module. It exposes no allocator: every
// value is pulled by the guest into its own buffer (buf, buf_limit) and the
// host writes nothing unless it fits.
const (
	// ImportModule is the module name of the host functions.
	ImportModule = "healthgate"

	// ExportABIMarker declares ABI v1. It is never called; a v2 marker may
	// sit beside it later. A function, not a global, because Go can export
	// only functions.
	ExportABIMarker = "healthgate_rule_abi_v1"
	// ExportEvaluate is called once per request: () -> i32, one of
	// ResultDeny, ResultAllow or ResultAbstain.
	ExportEvaluate = "evaluate"
	// ExportConfigure, if exported, is called once per instance after
	// initialisation: () -> i32. The rule reads its configuration with
	// FuncGetConfig; a non-zero result refuses to load the rule.
	ExportConfigure = "configure"
	// ExportInitialize is a WASI reactor's initialiser (Go's c-shared
	// build mode emits it); the host calls it once per instance.
	ExportInitialize = "_initialize"
	// ExportStart marks a WASI command, which the host refuses: a command
	// may call proc_exit while being instantiated and is meant to run once.
	ExportStart = "_start"
	// ExportMemory is the guest's linear memory.
	ExportMemory = "memory"
)

// Results of ExportEvaluate. Any other value is an ABI violation and refuses
// the request.
const (
	ResultDeny    = 0
	ResultAllow   = 1
	ResultAbstain = 2
)

// Host functions in ImportModule. Pointers and lengths are i32.
const (
	// FuncGetInput (buf, buf_limit) -> len: the security context as JSON.
	FuncGetInput = "get_input"
	// FuncGetAttr (key, key_len, buf, buf_limit) -> i64 count<<32 | len:
	// one attribute of the security context, its values each followed by
	// a NUL byte. count 0 means absent.
	FuncGetAttr = "get_attr"
	// FuncGetConfig (buf, buf_limit) -> len: the rule's configuration as a
	// JSON object of string lists.
	FuncGetConfig = "get_config"
	// FuncSetResult (ptr, len) -> i32: the JSON result (reason, status,
	// obligations). 0 accepted, 1 too large. A later call replaces an
	// earlier one.
	FuncSetResult = "set_result"
	// FuncLogEnabled (level) -> i32: 1 if a message at level is logged.
	FuncLogEnabled = "log_enabled"
	// FuncLog (level, ptr, len): log a message; capped, never traps.
	FuncLog = "log"
	// FuncNowUnixMilli () -> i64: the request's time, read once per
	// request so all rules agree on it.
	FuncNowUnixMilli = "now_unix_ms"
)

// Log levels of FuncLog and FuncLogEnabled, as in http-wasm. Debug is -1 so
// that a zero value is not the noisiest level.
const (
	LogDebug = -1
	LogInfo  = 0
	LogWarn  = 1
	LogError = 2
	LogNone  = 3
)

// ModuleWASI is the WASI preview 1 module. It is instantiated only for
// guests that import it, with no files, environment, arguments or sockets.
const ModuleWASI = "wasi_snapshot_preview1"
