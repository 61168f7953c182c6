//go:build !wasip1

package rule

// Outside WebAssembly there is no host: every attribute is absent and results
// are dropped, so packages using the SDK still build and vet on any platform.

func attr(string) (int, []byte) { return 0, nil }
func config() []byte            { return nil }
func input() []byte             { return nil }
func result([]byte) bool        { return true }
func now() int64                { return 0 }
func logAt(Level, string)       {}
