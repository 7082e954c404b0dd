// A pool of objects that are not thread-safe (dlib's HOG detector and
// OpenCV's CascadeClassifier keep scratch state), so that concurrent calls
// each borrow their own instance instead of queueing on one lock.
//
//   ObjectPool<cv::CascadeClassifier> pool([] { return LoadCascade(); });
//   auto cascade = pool.Acquire();  // returned to the pool when it goes away
//   cascade->detectMultiScale(...);
#ifndef STACHE_DETECTOR_INTERNAL_OBJECT_POOL_H_
#define STACHE_DETECTOR_INTERNAL_OBJECT_POOL_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace stache::detector::internal {

// Thread-safe. Grows to the number of concurrent borrowers and keeps the
// instances for reuse. The lock covers only taking and returning.
template <typename T>
class ObjectPool final {
 public:
  // `factory` makes a new instance when none is free; it must be
  // thread-safe and must not fail (validate what it needs up front).
  explicit ObjectPool(std::function<std::unique_ptr<T>()> factory)
      : factory_(std::move(factory)) {}

  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  // Exclusive use of one instance until destroyed. Must not outlive the pool.
  class Lease final {
   public:
    Lease(ObjectPool* pool, std::unique_ptr<T> object)
        : pool_(pool), object_(std::move(object)) {}
    Lease(Lease&& other) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (object_ != nullptr) pool_->Return(std::move(object_));
    }
    T& operator*() const { return *object_; }
    T* operator->() const { return object_.get(); }

   private:
    ObjectPool* pool_;
    std::unique_ptr<T> object_;
  };

  Lease Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        std::unique_ptr<T> object = std::move(free_.back());
        free_.pop_back();
        return Lease(this, std::move(object));
      }
    }
    // Made outside the lock: building an instance can take milliseconds.
    return Lease(this, factory_());
  }

  // Instances idle in the pool (for tests).
  size_t idle_count() const {
    absl::MutexLock lock(&mu_);
    return free_.size();
  }

 private:
  void Return(std::unique_ptr<T> object) {
    absl::MutexLock lock(&mu_);
    free_.push_back(std::move(object));
  }

  const std::function<std::unique_ptr<T>()> factory_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<T>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_OBJECT_POOL_H_
