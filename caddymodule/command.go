package caddymodule

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// subcommands holds the constructors of `caddy healthgate …` commands. Each
// command file adds its own from init, as modules register themselves, so
// the group is complete in any build that compiles this package (an xcaddy
// build included).
var subcommands []func() *cobra.Command

// registerSubcommand adds a `caddy healthgate` subcommand.
func registerSubcommand(f func() *cobra.Command) { subcommands = append(subcommands, f) }

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "healthgate",
		Usage: "<pki|demo|...> [flags]",
		Short: "Tools of the healthgate security gateway",
		Long: `
Tools of the healthgate modules: a development PKI, a demo gateway and the
helpers each verifier and policy brings. Run 'caddy healthgate <command> --help'.`,
		CobraFunc: func(cmd *cobra.Command) {
			for _, f := range subcommands {
				cmd.AddCommand(f())
			}
		},
	})
}
