package caddymodule

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/healthgate/healthgate/internal/devpki"
)

func init() { registerSubcommand(pkiCommand) }

func pkiCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki [--out <dir>]",
		Short: "Makes a development PKI: CA, localhost server and device/application/user client certificates",
		Long: `
Makes a development PKI in a folder: a CA (ca.crt), a server certificate for
localhost (server.crt), client certificates for a device, an application and
a user (device.crt, application.crt, user.crt, each with its .key), and the
user's certificate as PKCS#12 (user.p12) for import into a browser, as
Orthanc's mutual-TLS recipe does. Running it again reuses what is there.
Not for production.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			set, err := devpki.Generate(out)
			if err != nil {
				return err
			}
			printDevSet(cmd, set)
			return nil
		},
	}
	cmd.Flags().String("out", "./healthgate-pki", "folder to write the PKI into")
	return cmd
}

func printDevSet(cmd *cobra.Command, s *devpki.DevSet) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "development PKI in %s\n", s.Dir)
	fmt.Fprintf(w, "  CA            %s\n", s.CACert)
	fmt.Fprintf(w, "  server        %s (localhost)\n", s.ServerCert)
	fmt.Fprintf(w, "  device        %s (%s)\n", s.DeviceCert, s.DeviceID)
	fmt.Fprintf(w, "  application   %s (%s)\n", s.ApplicationCert, s.ApplicationID)
	fmt.Fprintf(w, "  user          %s (%s)\n", s.UserCert, s.UserID)
	fmt.Fprintf(w, "  browser       %s (password %q)\n", s.UserP12, s.P12Password)
}
