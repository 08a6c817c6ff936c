// Package metrics exposes what ginauth does (logins, lockouts, sessions,
// session store calls, bcrypt slots, the user cache, mail) as Prometheus
// metrics.
//
// It is opt-in: an application that does not import it compiles no
// Prometheus code. One value of type [Metrics] feeds every hook that the
// auth package offers:
//
//	m, err := metrics.New(metrics.Options{}) // registers on prometheus.DefaultRegisterer
//	if err != nil {
//		log.Fatal(err)
//	}
//	a, err := auth.New(auth.Config[*Account]{
//		Store:   m.Store(sessions, "redis"), // times every store call
//		Metrics: m,                          // bcrypt slots, user cache
//		OnEvent: m.OnEvent(audit),           // counts each account event, then calls audit
//		// ...
//	})
//
// and, for the account mails, the same value is the mail.QueueMetrics of
// the mail queue:
//
//	q := mail.NewQueue(sender, mail.QueueOptions{Metrics: m})
//
// The application serves them with promhttp.Handler(), preferably on
// an address of its own that only the monitoring system can reach.
//
// # Metrics
//
// Names below use the default namespace, "ginauth" ([Options.Namespace]).
//
//	ginauth_logins_total{result}                             counter   result: success, invalid_credentials, locked, busy, https_required, error
//	ginauth_lockouts_total{action}                           counter   action: login, register, password_change
//	ginauth_registrations_total                              counter
//	ginauth_logouts_total                                    counter
//	ginauth_logout_all_total                                 counter
//	ginauth_password_changes_total                           counter
//	ginauth_sessions_revoked_total{reason}                   counter   reason: logout_all, password_change, session_revoked
//	ginauth_session_store_duration_seconds{operation,store}  histogram buckets 0.1 ms to 1 s
//	ginauth_session_store_errors_total{operation,store,kind} counter   kind: unavailable, corrupt, conflict, other
//	ginauth_bcrypt_in_flight                                 gauge
//	ginauth_bcrypt_queue_wait_seconds                        histogram buckets 1 ms to 5 s
//	ginauth_bcrypt_busy_total                                counter
//	ginauth_user_cache_lookups_total{result}                 counter   result: hit, miss
//	ginauth_mail_total{kind,result}                          counter   result: queued, sent, retried, failed, dropped, lost
//	ginauth_mail_queue_depth                                 gauge
//
// Store operations are load, create, update, touch, regenerate, destroy,
// list, destroy_id, destroy_user and create_limited; store is the name given to
// [Metrics.Store].
//
// What the login results count, event by event: success is every
// login_success, so a registration through the prebuilt routes, which signs
// the new user in, counts one; invalid_credentials is every login_failure
// of a login (a wrong current password at a password change, which the
// auth package reports as a login_failure with Action "password_change",
// is not a login and counts nowhere); locked is a lockout whose Action is "login" (a lockout
// of a registration or a password change counts in lockouts_total only);
// busy and error are login_error with Code "busy", and with any other code.
//
// The mail kinds are those of mail.Kinds, and other for any kind of the
// application's own. The mail series appear when a mail queue starts (all
// of them, at zero): an application without one exports none. Every mail
// queued ends, once, as sent, failed (given up after its attempts, or
// refused for good by the server) or lost (still queued when the queue
// closed); dropped mails were never queued (the queue was full).
//
// Every label takes its values from a fixed set (the store label from
// the names the application passes to [Metrics.Store]): no metric carries a
// username, a user ID, an address, a session handle or any secret, so the
// number of series stays bounded whatever clients send. Every series of
// a fixed label set exists from the start, at zero, so that rate() and
// increase() see the first event.
package metrics
