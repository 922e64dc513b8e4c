"""The built-in vendor sandbox: a real HTTP implementation of every vendor API.

Think stripe-mock, plus state and callbacks: it verifies each vendor's
signature exactly as its document says (recomputing it with the pure functions
of vendors/<code>.py, the one definition of each algorithm), validates
parameters, answers with the vendor's own success and error bodies, keeps what
it was asked to do in its own tables, and — when a call is "played" — POSTs the
vendor's documented callbacks back to the console over real HTTP.

It is a development and test tool: the root urls mount it at /sandbox/ only
when settings.SANDBOX_ENABLED (on in tests and the demo, off in production).
Vendor endpoints are CSRF-exempt and authenticated by the vendor signatures.

URL layout (under /sandbox/; each vendor's paths are its module's ROUTES, served by
sandbox/endpoints.py through the vendors registry, contract in sandbox/protocol.py):
  ccp/2013-12-26/Accounts/{sid}/AccountInfo | SubAccounts | GetSubAccounts
                 | SMS/Messages | SMS/TemplateSMS
  ccp/2013-12-26/SubAccounts/{subsid}/Calls/Callback         (sandbox/ccp.py)
  igw/api/v1/account/status
  igw/igw/service/uc/interline[/{x}[/transfer]]               (sandbox/igw.py)
  huawei/rest/httpsessions/callVerify/v1.0                     (sandbox/huawei.py)
  cyj/20171220/bind/callEvent/v1 | cyj/20171220/bind/callEvent/voice/v1
                                                               (sandbox/cyj.py)
  recordings/<public_id>.wav   the recording of a played call (a real WAV)
  ""                           the page: requests received, bindings, calls,
                               callbacks sent; forms to place a call and set chaos
  api/…                        a small JSON API (sandbox/api.py)
So a console VendorAccount's base_url is e.g. http://127.0.0.1:8000/sandbox/igw
(ccp: …/sandbox/ccp/2013-12-26).

Mirroring accounts: `services.ensure_sandbox_account(vendor_account=…)` creates
or updates the SandboxAccount with the same vendor, account_id, secret and
app_id, the account's X numbers, and its webhook URLs as callback URLs.
Unknown accounts get the vendor's own "account not found" error.

Playing calls (callbacks): `services.play_call`, the `sandbox_call` command, the
"Place a call" form, or POST /sandbox/api/calls/.  Outcomes: answered (with a
duration), busy, no_answer, rejected, unreachable, invalid_number, blocked,
failed (ccp cannot say "blocked").  Synchronous for tests and the command, in a
background thread from the page; every attempt is a SandboxDelivery row.

Chaos (per account on the page / API, per call for the delivery side):
  API side:       chaos_api_delay_ms, chaos_api_fail_next (next N signed
                  requests answer 503), chaos_api_timeout_next (hang
                  chaos_timeout_seconds, then 504)
  callback side:  delay_ms, duplicate (each callback twice), out_of_order
                  (whole sequence reversed), recording_late_seconds (the
                  recording URL 404s that long after the call)
  ccp answer forms: ccp_success_code ("000000" as the SDKs compare, or "0"
                  as the PHP guide says), ccp_sub_account_sid_key
                  (subAccountSid, or accountSid as the guide's PHP reads)
  ccp SMS rules:  ccp_app_state (the application's state, guide §2.5.2) and
                  ccp_registered_numbers (who an application that is not
                  online may still send to)
Callbacks that get a non-2xx or a network error are retried twice (1 s, 3 s).

Running it alone on its own port:
  DEBUG=1 python manage.py run_sandbox --port 8001 [--addr 127.0.0.1] [--noreload]
serves sandbox.standalone_urls (runserver with ROOT_URLCONF overridden): the
same /sandbox/… paths, plus login/admin so the page works; nothing else of the
console.  Set SANDBOX_BASE_URL=http://127.0.0.1:8001/sandbox for commands that
play calls without a request (recording URLs are built from it; a request's
own host is used otherwise).

Benchmark: python bench/bench_sandbox_clients.py (see its docstring).
"""
