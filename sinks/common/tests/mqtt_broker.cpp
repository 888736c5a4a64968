#include "sinks/common/tests/mqtt_broker.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pm500::test {

namespace {

void must(const RunResult& r, const std::string& what) {
  if (r.code != 0) throw std::runtime_error(what + " failed (" + std::to_string(r.code) + "): " + r.output);
}

std::string openssl() { return which("openssl").value_or("openssl"); }

}  // namespace

Pki::Pki(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  make_ca("ca");
  make_ca("other-ca");
  sign("server", "/CN=localhost", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "", "", "");
}

void Pki::make_ca(const std::string& name) {
  // EC P-256 keys: generated in milliseconds, unlike RSA.
  must(run({openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            (dir_ / (name + ".key")).string(), "-out", (dir_ / (name + ".crt")).string(), "-days", "3650", "-subj",
            "/CN=pm500 test " + name}),
       "openssl req (" + name + ")");
}

KeyPair Pki::sign(const std::string& name, const std::string& subject, const std::string& ca, const std::string& ext,
                  const std::string& start, const std::string& end, const std::string& password) {
  const fs::path key = dir_ / (name + ".key"), csr = dir_ / (name + ".csr"), crt = dir_ / (name + ".crt");
  std::vector<std::string> req{openssl(), "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-keyout", key.string(), "-out", csr.string(), "-subj", subject};
  if (password.empty()) req.push_back("-nodes");
  else req.insert(req.end(), {"-passout", "pass:" + password});
  must(run(req), "openssl req (" + name + ")");
  write_file(dir_ / (name + ".ext"), ext);
  if (start.empty()) {
    must(run({openssl(), "x509", "-req", "-in", csr.string(), "-CA", (dir_ / (ca + ".crt")).string(), "-CAkey",
              (dir_ / (ca + ".key")).string(), "-set_serial", std::to_string(++serial_), "-days", "365", "-out",
              crt.string(), "-extfile", (dir_ / (name + ".ext")).string()}),
         "openssl x509 -req (" + name + ")");
  } else {
    // `openssl x509` cannot backdate a certificate; `openssl ca` takes explicit dates.
    const fs::path db = dir_ / ("ca-db-" + name);
    fs::create_directories(db);
    write_file(db / "index.txt", "");
    write_file(db / "serial", "1000\n");
    write_file(db / "ca.cnf", "[ca]\ndefault_ca = d\n[d]\ndatabase = " + (db / "index.txt").string() +
                                  "\nnew_certs_dir = " + db.string() + "\nserial = " + (db / "serial").string() +
                                  "\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n");
    must(run({openssl(), "ca", "-batch", "-config", (db / "ca.cnf").string(), "-notext", "-in", csr.string(), "-cert",
              (dir_ / (ca + ".crt")).string(), "-keyfile", (dir_ / (ca + ".key")).string(), "-startdate", start,
              "-enddate", end, "-out", crt.string()}),
         "openssl ca (" + name + ")");
  }
  return {crt, key};
}

KeyPair Pki::client(const std::string& cn, bool other_ca, const std::string& start, const std::string& end,
                    const std::string& password) {
  return sign("client-" + cn + (other_ca ? "-other" : "") + (start.empty() ? "" : "-dated"), "/CN=" + cn,
              other_ca ? "other-ca" : "ca", "extendedKeyUsage=clientAuth\n", start, end, password);
}

KeyPair Pki::wrong_name_server() {
  return sign("server-elsewhere", "/CN=elsewhere.example", "ca", "subjectAltName=DNS:elsewhere.example\n", "", "", "");
}

Mosquitto::Mosquitto(fs::path dir, Pki* pki, BrokerOptions options)
    : dir_(std::move(dir)), pki_(pki), opt_(std::move(options)), port_(free_tcp_port()) {
  fs::create_directories(dir_);
  std::ostringstream c;
  c << "listener " << port_ << " 127.0.0.1\n";
  c << "allow_anonymous " << (opt_.users.empty() && !opt_.use_identity_as_username ? "true" : "false") << "\n";
  c << "persistence true\npersistence_location " << dir_.string() << "/\n";
  c << "log_dest stdout\nlog_type all\n";
  // The restart test queues thousands of samples for an offline subscriber.
  c << "max_queued_messages 200000\nmax_inflight_messages 20\n";
  // Root in a test container: stay root so the broker can read the test's files.
  c << "user root\n";
  if (opt_.tls) {
    const KeyPair server = opt_.server_cert ? *opt_.server_cert : pki_->server();
    c << "cafile " << pki_->ca_crt().string() << "\ncertfile " << server.crt.string() << "\nkeyfile "
      << server.key.string() << "\n";
    c << "tls_version tlsv1.2\n";
    if (opt_.require_certificate) c << "require_certificate true\n";
    if (opt_.use_identity_as_username) c << "use_identity_as_username true\n";
  }
  if (!opt_.users.empty()) {
    const fs::path pw = dir_ / "passwd";
    write_file(pw, "");
    for (const auto& [u, p] : opt_.users) must(run({which("mosquitto_passwd").value_or("mosquitto_passwd"), "-b", pw.string(), u, p}), "mosquitto_passwd");
    c << "password_file " << pw.string() << "\n";
  }
  if (!opt_.acl.empty()) {
    write_file(dir_ / "acl", opt_.acl);
    c << "acl_file " << (dir_ / "acl").string() << "\n";
  }
  write_file(dir_ / "mosquitto.conf", c.str());
}

Mosquitto::~Mosquitto() { stop(); }

void Mosquitto::start() {
  if (proc_) return;
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{which("mosquitto").value_or("/usr/sbin/mosquitto"), "-c", (dir_ / "mosquitto.conf").string()});
  pid_ = proc_->pid();
  if (!wait_for_tcp(port_, 10s)) throw std::runtime_error("mosquitto did not listen on " + std::to_string(port_) + ": " + proc_->log());
}

bool Mosquitto::signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

void Mosquitto::stop() {
  if (!proc_) return;
  // Keep what it printed across restarts: the test reads the broker's log for evidence.
  std::ofstream(dir_ / "previous.log", std::ios::app) << proc_->log();
  proc_->signal(SIGCONT);  // a test may have left it stopped (SIGSTOP)
  proc_->signal(SIGTERM);
  proc_->wait(5s);
  proc_.reset();
  pid_ = -1;
}

std::string Mosquitto::url(const std::string& host) const {
  return std::string(opt_.tls ? "mqtts://" : "mqtt://") + host + ":" + std::to_string(port_);
}

std::string Mosquitto::log() const {
  std::string prev = fs::exists(dir_ / "previous.log") ? read_file(dir_ / "previous.log") : std::string();
  return prev + (proc_ ? proc_->log() : std::string());
}

namespace {
std::vector<std::string> client_args(const Mosquitto& b, const Pki& pki) {
  return {"-h", "localhost", "-p", std::to_string(b.port()), "--cafile", pki.ca_crt().string()};
}
}  // namespace

Subscriber::Subscriber(const Mosquitto& broker, const Pki& pki, const std::string& topic, std::vector<std::string> auth,
                       const std::string& client_id)
    : broker_(broker), pki_(pki), topic_(topic) {
  std::vector<std::string> argv{which("mosquitto_sub").value_or("mosquitto_sub")};
  for (auto& a : client_args(broker, pki)) argv.push_back(a);
  for (auto& a : auth) argv.push_back(a);
  argv.insert(argv.end(), {"-q", "1", "-c", "-i", client_id, "-F", "%t %p", "-t", topic, "-t", "pm500-test/ready"});
  proc_ = std::make_unique<Process>(argv);
}

std::vector<std::string> Subscriber::lines() const {
  std::vector<std::string> out;
  std::istringstream in(proc_->log());
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && !l.starts_with("pm500-test/ready")) out.push_back(l);
  return out;
}

bool Subscriber::ready(const std::vector<std::string>& pub_auth, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        mosquitto_pub(broker_, pki_, "pm500-test/ready", "ready", pub_auth);
        return proc_->log().find("pm500-test/ready ready") != std::string::npos;
      },
      timeout);
}

RunResult mosquitto_pub(const Mosquitto& broker, const Pki& pki, const std::string& topic, const std::string& message,
                        const std::vector<std::string>& auth, bool retain) {
  std::vector<std::string> argv{which("mosquitto_pub").value_or("mosquitto_pub")};
  for (auto& a : client_args(broker, pki)) argv.push_back(a);
  for (auto& a : auth) argv.push_back(a);
  argv.insert(argv.end(), {"-q", "1", "-t", topic, "-m", message});
  if (retain) argv.push_back("-r");
  return run(argv, 10s);
}

}  // namespace pm500::test
