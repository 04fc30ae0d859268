package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"sluice/storage/clickhouse"
)

// Users describes the least-privilege accounts of a ClickHouse server:
// sluice itself, which inserts flows and runs migrations, and analysts and
// Grafana, who read. The embedded engine has no users; a server's
// administrator runs this DDL once (`sluice migrate --print-users`).
type Users struct {
	// WriterPassword and AnalystPassword are the accounts' passwords. Only
	// their SHA-256 is written into the DDL.
	WriterPassword  string
	AnalystPassword string
	// Limits bound each analyst query; the client (Grafana) may lower
	// max_execution_time, never raise the rest.
	Limits clickhouse.QueryLimits
	// QueriesPerHour and ExecutionSecondsPerHour are the analyst quota.
	QueriesPerHour          int
	ExecutionSecondsPerHour int
}

// Names of the accounts, roles and profile.
const (
	WriterUser     = "sluice_writer"
	AnalystUser    = "sluice_analyst"
	writerRole     = "sluice_writer_role"
	analystRole    = "sluice_analyst_role"
	analystProfile = "sluice_analyst_profile"
	analystQuota   = "sluice_analyst_quota"
)

// UsersDDL returns the statements creating the roles, profile, quota and
// users. They are idempotent (IF NOT EXISTS; GRANT again is harmless).
func UsersDDL(u Users) ([]string, error) {
	if u.WriterPassword == "" || u.AnalystPassword == "" {
		return nil, errors.New("users: both passwords are needed (SLUICE_WRITER_PASSWORD, SLUICE_ANALYST_PASSWORD)")
	}
	if err := u.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if u.QueriesPerHour < 1 || u.ExecutionSecondsPerHour < 1 {
		return nil, errors.New("users: the quota must allow at least one query and one second per hour")
	}
	hash := func(p string) string {
		sum := sha256.Sum256([]byte(p))
		return clickhouse.QuoteString(hex.EncodeToString(sum[:]))
	}
	l := u.Limits
	return []string{
		// The writer inserts flows and, as the migrator, owns the schema.
		"CREATE ROLE IF NOT EXISTS " + writerRole,
		fmt.Sprintf("GRANT SELECT, INSERT, ALTER, CREATE TABLE, CREATE VIEW, CREATE DICTIONARY, DROP VIEW, TRUNCATE, OPTIMIZE, dictGet ON %s.* TO %s", Database, writerRole),
		"GRANT CREATE DATABASE ON " + Database + ".* TO " + writerRole,
		"GRANT SYSTEM RELOAD DICTIONARY ON *.* TO " + writerRole, // only grantable globally
		"GRANT CLUSTER ON *.* TO " + writerRole,                  // ON CLUSTER DDL, in cluster mode
		// Analysts read, within limits: readonly = 1 forbids writes and
		// settings changes, except max_execution_time, which Grafana sets;
		// MAX keeps them from raising it.
		fmt.Sprintf("CREATE SETTINGS PROFILE IF NOT EXISTS %s SETTINGS readonly = 1, max_execution_time = %d MAX %d CHANGEABLE_IN_READONLY, max_result_bytes = %d, result_overflow_mode = 'throw', max_memory_usage = %d",
			analystProfile, int(l.MaxExecutionTime.Seconds()), int(l.MaxExecutionTime.Seconds()), l.MaxResultBytes, l.MaxMemoryUsage),
		fmt.Sprintf("CREATE ROLE IF NOT EXISTS %s SETTINGS PROFILE %s", analystRole, clickhouse.QuoteString(analystProfile)),
		fmt.Sprintf("GRANT SELECT, dictGet ON %s.* TO %s", Database, analystRole),
		// A default role must be granted first: create, grant, then set.
		fmt.Sprintf("CREATE USER IF NOT EXISTS %s IDENTIFIED WITH sha256_hash BY %s", WriterUser, hash(u.WriterPassword)),
		fmt.Sprintf("GRANT %s TO %s", writerRole, WriterUser),
		fmt.Sprintf("SET DEFAULT ROLE %s TO %s", writerRole, WriterUser),
		fmt.Sprintf("CREATE USER IF NOT EXISTS %s IDENTIFIED WITH sha256_hash BY %s SETTINGS PROFILE %s", AnalystUser, hash(u.AnalystPassword), clickhouse.QuoteString(analystProfile)),
		fmt.Sprintf("GRANT %s TO %s", analystRole, AnalystUser),
		fmt.Sprintf("SET DEFAULT ROLE %s TO %s", analystRole, AnalystUser),
		fmt.Sprintf("CREATE QUOTA IF NOT EXISTS %s FOR INTERVAL 1 hour MAX queries = %d, execution_time = %d TO %s",
			analystQuota, u.QueriesPerHour, u.ExecutionSecondsPerHour, analystRole),
	}, nil
}

// DefaultUsers has the default limits and quota; the passwords are left
// to the caller.
func DefaultUsers() Users {
	return Users{Limits: clickhouse.DefaultQueryLimits(), QueriesPerHour: 10_000, ExecutionSecondsPerHour: 3_600}
}

// joinStatements prints statements as a script.
func joinStatements(stmts []string) string { return strings.Join(stmts, ";\n") + ";\n" }

// UsersScript is UsersDDL as one script, for an administrator to run.
func UsersScript(u Users) (string, error) {
	stmts, err := UsersDDL(u)
	if err != nil {
		return "", err
	}
	return joinStatements(stmts), nil
}
