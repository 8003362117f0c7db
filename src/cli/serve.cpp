#include "cli/serve.h"

#include "api/api.h"
#include "auth/authenticator.h"
#include "auth/token_authorizer.h"
#include "cli/access_log.h"
#include "cli/config_source.h"
#include "cli/debug_vars.h"
#include "cli/health_checks.h"
#include "cli/health_endpoints.h"
#include "cli/listing_changes.h"
#include "cli/logging.h"
#include "cli/metrics_exporter.h"
#include "cli/notifications.h"
#include "cli/online_gc.h"
#include "cli/storage_stack.h"
#include "cli/upload_purger.h"
#include "config/config.h"
#include "http/mux.h"
#include "http/server.h"
#include "registry/registry.h"
#include "storage/factory.h"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace onsen::cli {

namespace {

http::ServerOptions server_options(const config::Config& cfg) {
  const config::HttpConfig& http = cfg.http;
  http::ServerOptions options;
  options.access_log = !cfg.log.access_log_disabled;
  options.access_log_writer = make_access_log_writer(cfg.log);
  options.addr = http.addr;
  options.net = http.net;
  options.tls_cipher_suites = http.tls.cipher_suites;
  options.drain_timeout = http.drain_timeout;
  options.idle_timeout = http.idle_timeout;
  options.read_timeout = http.read_timeout;
  options.max_connections = http.max_connections;
  options.min_body_rate = http.min_body_rate;
  options.tls_certificate = http.tls.certificate;
  options.tls_key = http.tls.key;
  options.tls_second_certificate = http.tls.second_certificate;
  options.tls_second_key = http.tls.second_key;
  options.tls_min_version = http.tls.minimum_tls;
  options.tls_client_cas = http.tls.client_cas;
  options.tls_ticket_keys = http.tls.ticket_keys;
  for (auto& [name, values] : http.headers) {
    for (auto& value : values) options.extra_headers.emplace_back(name, value);
  }
  return options;
}

api::ApiOptions api_options(const config::HttpConfig& http) {
  api::ApiOptions options;
  options.prefix = http.prefix;
  while (!options.prefix.empty() && options.prefix.back() == '/') options.prefix.pop_back();
  if (!options.prefix.empty() && options.prefix.front() != '/')
    options.prefix = "/" + options.prefix;
  if (!http.relative_urls) {
    options.host = http.host;
    while (!options.host.empty() && options.host.back() == '/') options.host.pop_back();
  }
  return options;
}

// auth.token -> the TokenAuthorizer's options (it reads the key files and checks the algorithms).
auth::TokenAuthorizerOptions token_options(const config::TokenConfig& token) {
  auth::TokenAuthorizerOptions options;
  options.realm = token.realm;
  options.service = token.service;
  options.issuer = token.issuer;
  options.rootcertbundle = token.rootcertbundle;
  options.jwks = token.jwks;
  options.signing_algorithms = token.signingalgorithms;
  options.autoredirect = token.autoredirect;
  options.autoredirect_path = token.autoredirectpath;
  return options;
}

auth::AuthenticatorOptions authenticator_options(const config::ThrottleConfig& throttle) {
  auth::AuthenticatorOptions options;
  options.throttle.max_failures = throttle.failures;
  options.throttle.max_address_failures = throttle.address_failures;
  options.throttle.window = throttle.window;
  return options;
}

// SIGINT and SIGTERM are blocked from the start of serve() until the server's handlers are
// installed: one arriving during start-up (loading the configuration, opening storage, binding)
// then stops the server as soon as it runs, with exit status 0, instead of killing the process
// by the default action. Threads started meanwhile (the upload purger) keep them blocked, so the
// I/O threads take them.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    hold();
  }
  // Not released at destruction: serve() returns to exit, a signal left pending must not kill.
  void hold() { pthread_sigmask(SIG_BLOCK, &set_, nullptr); }
  void release() { pthread_sigmask(SIG_UNBLOCK, &set_, nullptr); }

 private:
  sigset_t set_;
};

}  // namespace

int serve(const std::string& config_arg) {
  SignalsHeld signals;
  config::Config cfg;
  try {
    std::vector<std::string> warnings;
    cfg = load_checked(resolve_config_path(config_arg), environment(), warnings);
    configure_logging(cfg.log);
    for (auto& warning : warnings) spdlog::warn("{}", warning);
  } catch (const config::ConfigError& e) {
    std::cerr << "onsen: configuration error: " << e.what() << "\n";
    return 2;
  }

  try {
    // The usage index only when asked for or needed by quotas: it keeps every repository's blob
    // set in memory, which grows with the store.
    StorageStack stack = open_storage(cfg, cfg.usage.enabled || !cfg.quotas.empty());
    registry::Registry& registry = *stack.registry;
    if (stack.usage) stack.usage->start(cfg.usage.refresh);  // a walk now, then every refresh
    std::unique_ptr<redis::Subscriber> subscriber;           // destroyed before the registry
    if (stack.listing_changes) subscriber = stack.listing_changes->subscribe(registry);
    // The one place that knows the auth methods: a new one is a new Authorizer made here.
    std::unique_ptr<auth::Authorizer> authorizer;
    const auth::BasicAuthenticator* htpasswd = nullptr;  // for the metrics of its cache
    if (cfg.auth.htpasswd) {
      auto basic = std::make_unique<auth::BasicAuthenticator>(
          cfg.auth.htpasswd->realm, cfg.auth.htpasswd->path,
          authenticator_options(cfg.auth.htpasswd->throttle));
      htpasswd = basic.get();
      authorizer = std::move(basic);
    } else if (cfg.auth.token) {
      authorizer = std::make_unique<auth::TokenAuthorizer>(token_options(*cfg.auth.token));
    }
    std::unique_ptr<UploadPurger> purger;
    if (cfg.storage.upload_purging_enabled && !cfg.storage.read_only) {
      purger = std::make_unique<UploadPurger>(registry, cfg.storage.upload_purging_age,
                                              cfg.storage.upload_purging_interval,
                                              cfg.storage.upload_purging_dry_run);
    }
    OnlineGc gc = make_online_gc(cfg, registry);
    auto options = api_options(cfg.http);
    options.redirect = !cfg.storage.redirect_disabled;
    options.collector = gc.collector.get();
    options.gc_defaults = collection_defaults(cfg.storage.gc);
    const std::string api_prefix = options.prefix + "/v2";
    const std::string admin_prefix = options.prefix + "/admin";
    // Before the API, which publishes to it, and destroyed after it (a short drain of the queues).
    Notifications notifications = start_notifications(cfg);
    options.events = notifications.events;
    api::Api api(registry, std::move(options), authorizer.get());
    http::Handler api_handler = [&api](http::Request& req) { return api.handle(req); };
    // Every endpoint the server has, by path prefix; a new one (a web UI, a token endpoint) is a
    // handler registered here.
    http::Mux mux;
    mux.handle(api_prefix, api_handler);
    mux.handle(admin_prefix, [&api](http::Request& req) { return api.handle_admin(req); });
    // Other paths get the API's 404 (NAME_UNKNOWN in the spec's JSON, after authentication), as
    // they always have.
    mux.set_fallback(api_handler);
    http::ServerOptions main_options = server_options(cfg);
    // Metrics: the requests counted as the server answers them (cli/request_metrics.h).
    std::unique_ptr<RequestMetrics> request_metrics;
    if (metrics_enabled(cfg)) {
      request_metrics = std::make_unique<RequestMetrics>();
      main_options.observer = request_metrics.get();
    }
    // health: checks on their own threads; while one fails, every request is answered 503 as
    // registry:2's health.Handler does (cli/health_endpoints.h).
    HealthChecks health(
        configured_checks(cfg.health, cfg.storage.driver, registry.uncached_storage_driver()));
    http::Server server(std::move(main_options), health_gate(health, mux.handler()));
    server.stop_on_signals();
    signals.release();
    server.start();
    spdlog::info("onsen serving {} on {}, storage {} at {}, auth {}",
                 cfg.http.tls.certificate.empty() ? "http" : "https", cfg.http.addr,
                 cfg.storage.driver, storage::location(cfg.storage.driver, cfg.storage.parameters),
                 cfg.auth.token ? "token"
                 : authorizer   ? "htpasswd"
                                : "none");
    // The debug listener: plain HTTP on its own thread, stopped after the main server.
    http::Mux debug_mux;  // /debug/vars (the fallback), health, the metrics path
    std::optional<MetricsExporter> exporter;
    std::optional<http::Server> debug;
    std::thread debug_thread;
    if (!cfg.http.debug_addr.empty()) {
      http::ServerOptions debug_options;
      debug_options.addr = cfg.http.debug_addr;
      debug_options.threads = 1;
      debug_options.access_log = false;
      debug_mux.set_fallback(
          debug_vars_handler(server, registry, gc.collector.get(), notifications.notifier.get()));
      for (const char* path : {"/debug/health", "/debug/ready", "/debug/live"}) {
        debug_mux.handle(
            path, health_handler(
                      health, server,
                      cfg.health.storage_enabled ? storage_check_name(cfg.storage.driver) : ""));
      }
      if (request_metrics) {
        exporter.emplace(MetricsSources{
            .server = &server,
            .requests = request_metrics.get(),
            .auth = authorizer ? &api.auth_outcomes() : nullptr,
            .htpasswd = htpasswd,
            .registry = &registry,
            .storage = stack.metered.get(),
            .storage_driver = cfg.storage.driver,
            .collector = gc.collector.get(),
            .notifications = notification_counters(notifications.notifier.get()),
        });
        debug_mux.handle(cfg.http.prometheus_path, metrics_handler(*exporter));
      }
      debug.emplace(std::move(debug_options), debug_mux.handler());
      debug->start();
      debug_thread = std::thread([&debug] { debug->run(); });
    }
    server.run();
    if (debug) {
      debug->stop();
      debug_thread.join();
    }
    api.finish_blocking_work();  // jobs resume on the server's io_context: end them before it goes
    // Stopped: a late signal must not kill the process by the default action once the handlers
    // are gone (as the server is destroyed); it stays pending until the exit.
    signals.hold();
    spdlog::info("onsen stopped");
    return 0;
  } catch (const std::exception& e) {
    signals.hold();
    spdlog::critical("startup failed: {}", e.what());
    return 1;
  }
}

}  // namespace onsen::cli
