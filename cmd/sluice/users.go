package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"sluice/storage/migrate"
)

// stdoutOf is where `sluice migrate --print-users` writes its script:
// standard output, whatever writer carries the logs.
var stdoutOf = func(io.Writer) io.Writer { return os.Stdout }

// secret reads a password from NAME, or from the file NAME_FILE names.
func secret(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if path := os.Getenv(name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", fmt.Errorf("%s (or %s_FILE) is not set", name, name)
}

// printUsersScript writes the server's users DDL, with the analyst limits
// of the configuration's storage.sql.
func printUsersScript(cfg Config, w io.Writer) error {
	u := migrate.DefaultUsers()
	u.Limits = cfg.Storage.SQL
	var err error
	if u.WriterPassword, err = secret("SLUICE_WRITER_PASSWORD"); err != nil {
		return err
	}
	if u.AnalystPassword, err = secret("SLUICE_ANALYST_PASSWORD"); err != nil {
		return err
	}
	script, err := migrate.UsersScript(u)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, script)
	return err
}
