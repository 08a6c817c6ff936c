package sqlauth

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// dialect is what differs between the databases the throttle runs on.
type dialect struct {
	name string
	// lock ends the SELECT that reads a call's rows: it locks them until
	// the transaction ends. Empty on SQLite, whose writers take the whole
	// database.
	lock string
	// keep ends the INSERT of a call's missing rows, keeping rows that
	// exist. On MySQL it also locks them exclusively (a plain INSERT IGNORE
	// takes a shared lock, which two transactions would both hold and
	// then both try to raise: a deadlock).
	keep string
	// tx are the transactions' options: READ COMMITTED where the server's
	// default could be stricter, so that locked reads see the latest
	// committed row and take no gap locks.
	tx []*sql.TxOptions
	// serial: one write transaction at a time, in this process (SQLite),
	// and each begins with a write, so that it waits for the database's
	// write lock at its start instead of failing to take it half way.
	serial bool
}

var readCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

func dialectOf(db *gorm.DB) (dialect, error) {
	switch name := db.Dialector.Name(); name {
	case "postgres":
		return dialect{name: name, lock: " FOR UPDATE", keep: " ON CONFLICT (key_hash) DO NOTHING", tx: []*sql.TxOptions{readCommitted}}, nil
	case "mysql":
		return dialect{name: name, lock: " FOR UPDATE", keep: " ON DUPLICATE KEY UPDATE key_hash = key_hash", tx: []*sql.TxOptions{readCommitted}}, nil
	case "sqlite":
		return dialect{name: name, keep: " ON CONFLICT (key_hash) DO NOTHING", serial: true}, nil
	default:
		return dialect{}, fmt.Errorf("sqlauth: unsupported GORM dialect %q (PostgreSQL, MySQL/MariaDB and SQLite are)", name)
	}
}

// retryable reports whether err aborted a transaction that may simply run
// again: a deadlock or a serialization failure the database chose it for,
// SQLite's write lock still held elsewhere, or a row deleted between the
// INSERT that kept it and the SELECT that locks it.
func (d dialect) retryable(err error) bool {
	if errors.Is(err, errVanished) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40P01" || pg.Code == "40001" // deadlock_detected, serialization_failure
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1213 || string(my.SQLState[:]) == "40001" // ER_LOCK_DEADLOCK
	}
	if d.serial {
		msg := err.Error()
		return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
	}
	return false
}
