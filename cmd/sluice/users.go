package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"sluice/storage/chhttp"
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

// optionalSecret is secret, or "" when neither variable is set.
func optionalSecret(name string) (string, error) {
	if os.Getenv(name) == "" && os.Getenv(name+"_FILE") == "" {
		return "", nil
	}
	return secret(name)
}

// withClickHouseHTTPSecrets is the ClickHouse HTTP interface's
// configuration with the users' passwords from the environment: the
// analyst's (SLUICE_ANALYST_PASSWORD, for sluice_analyst and default) and
// the writer's (SLUICE_WRITER_PASSWORD), the migrations' own accounts.
func withClickHouseHTTPSecrets(c chhttp.Config) (chhttp.Config, error) {
	var err error
	if c.AnalystPassword, err = optionalSecret("SLUICE_ANALYST_PASSWORD"); err != nil {
		return c, err
	}
	if c.WriterPassword, err = optionalSecret("SLUICE_WRITER_PASSWORD"); err != nil {
		return c, err
	}
	return c, nil
}

// validateClickHouseHTTP checks the section with its passwords, which
// decide whether a non-loopback address is allowed.
func validateClickHouseHTTP(c chhttp.Config) error {
	c, err := withClickHouseHTTPSecrets(c)
	if err != nil {
		return err
	}
	return c.Validate()
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
