package caddymodule

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/healthgate/healthgate/policy/cws"
)

func init() { registerSubcommand(cwsSignCommand) }

// cwsSignCommand is `caddy healthgate cws-sign`: the client side of CWS,
// for curl and for testing a gateway.
func cwsSignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cws-sign --key <private key PEM> --user <key user> [--algorithm sha256|sha1] [--value] [<body file>|-]",
		Short: "Signs a request body the CorEMR CWS way and prints the Authorization header",
		Long: `
Signs a request body with an RSA private key (PKCS #1 v1.5 over SHA-256, or
SHA-1 for CWS V1) and prints the header to send:

  Authorization: CWS-SHA256 Access=<user>, Signature=<base64>

The body is read from the file named, or from standard input ("-" or no
argument). A GET, HEAD or DELETE signs the empty string: give /dev/null.
The key is an unencrypted PEM RSA private key (PKCS #8 or PKCS #1).

  curl -H "$(caddy healthgate cws-sign --key alice.key --user alice body.json)" \
       --data-binary @body.json https://gateway.example/cws/api
  curl -H "$(caddy healthgate cws-sign --key alice.key --user alice /dev/null)" \
       https://gateway.example/cws/api/inmates

The same signature with openssl alone:
  openssl dgst -sha256 -sign alice.key body.json | base64 -w0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			keyPath, _ := flags.GetString("key")
			user, _ := flags.GetString("user")
			algName, _ := flags.GetString("algorithm")
			valueOnly, _ := flags.GetBool("value")
			if keyPath == "" || user == "" {
				return fmt.Errorf("cws-sign: --key and --user are required")
			}
			alg, err := cws.ParseAlgorithm(algName)
			if err != nil {
				return fmt.Errorf("cws-sign --algorithm: %w", err)
			}
			pemBytes, err := os.ReadFile(keyPath)
			if err != nil {
				return fmt.Errorf("cws-sign: reading the key: %w", err)
			}
			key, err := cws.ParsePrivateKey(pemBytes)
			if err != nil {
				return fmt.Errorf("cws-sign: %w", err)
			}
			var content io.Reader = cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("cws-sign: %w", err)
				}
				defer f.Close()
				content = f
			}
			a, err := cws.Sign(key, alg, user, content)
			if err != nil {
				return err
			}
			if valueOnly {
				fmt.Fprintln(cmd.OutOrStdout(), a.String())
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "Authorization: "+a.String())
			}
			return nil
		},
	}
	cmd.Flags().String("key", "", "PEM file of the key user's RSA private key")
	cmd.Flags().String("user", "", "key user (the Access= value)")
	cmd.Flags().String("algorithm", "sha256", "sha256 (CWS-SHA256) or sha1 (CWS-SHA1, CWS V1)")
	cmd.Flags().Bool("value", false, "print the header value only, without \"Authorization: \"")
	return cmd
}
