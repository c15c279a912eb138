// A stimulus generator from a plugin: spikes to every target at start, start + interval, ...
#include "models/model.hpp"
#include "plugins/plugin.hpp"

namespace {

class regular final : public gs::stimulus_generator {
 public:
  regular(double interval, const gs::stimulus_context& c) : interval_(interval), t_(c.start), stop_(c.stop) {}
  gs::stimulus_event next() override {
    if (t_ >= stop_) return {gs::no_spike};
    const double t = t_;
    t_ += interval_;
    return {t};
  }

 private:
  double interval_, t_, stop_;
};

void add(gs::registry& reg) {
  gs::stimulus_info s;
  s.name = "regular";
  s.doc = "spikes at fixed intervals (test plugin)";
  s.params = {{"interval", "ms", "time between spikes", 10}};
  s.check = [](const gs::json& p) -> std::pair<std::string, std::string> {
    if (!(p["interval"].get<double>() > 0)) return {"interval", "must be > 0"};
    return {};
  };
  s.make = [](const gs::json& p, const gs::stimulus_context& c) {
    return std::make_unique<regular>(p["interval"].get<double>(), c);
  };
  reg.add_stimulus(std::move(s));
}

}  // namespace

GILLESPIKE_PLUGIN("regular_stimulus", add)
