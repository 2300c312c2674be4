// The AsyncWorker every bounded job uses (grab, snapshot, export, footage, probe): Run() on a libuv
// worker, an avr::Exception (or any std::exception) becomes the promise's RecorderError, Resolve()
// builds the value on the main thread. The baton is the subclass's members.
#pragma once

#include <napi.h>

#include "errors.h"
#include "js_convert.h"

namespace avr {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // other_code: the RecorderError code of a failure that is not an avr::Exception (e.g. bad_alloc).
  PromiseWorker(Napi::Env env, const char* name, const char* other_code)
      : Napi::AsyncWorker(env, name), deferred_(env), other_code_(other_code) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;                        // worker thread; throws on failure
  virtual Napi::Value Resolve(Napi::Env env) = 0;  // main thread, after a Run() that returned
  // Main thread, before settling: a last say over the outcome (an abort that came meanwhile).
  virtual void Settle(Failure*) {}

 private:
  void Execute() final {
    try {
      Run();
    } catch (const Exception& e) {
      failure_ = e.failure();
    } catch (const std::exception& e) {
      failure_ = {other_code_, e.what(), 0};
    }
  }
  void OnOK() final {
    Napi::Env env = Env();
    Settle(&failure_);
    if (!failure_.code.empty()) {
      deferred_.Reject(MakeError(env, failure_).Value());
      return;
    }
    deferred_.Resolve(Resolve(env));
  }
  void OnError(const Napi::Error& e) final { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  const char* other_code_;
  Failure failure_;
};

}  // namespace avr
