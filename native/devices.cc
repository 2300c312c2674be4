#include "devices.h"

#include <string>
#include <vector>

#include "av.h"

#if defined(__linux__)
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#endif

namespace avr {

namespace {

struct Size {
  int width = 0, height = 0;
  std::vector<double> fps;
};
struct Format {
  std::string fourcc, description;
  bool compressed = false;
  std::vector<Size> sizes;
};
struct Device {
  std::string path, name, driver;
  std::vector<Format> formats;
};

#if defined(__linux__)
int Ioctl(int fd, unsigned long req, void* arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

std::string Fourcc(uint32_t f) {
  std::string s;
  for (int i = 0; i < 4; i++) s += (char)((f >> (8 * i)) & 0xff);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::vector<Device> ListV4l2() {
  std::vector<Device> out;
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("video", 0) == 0) paths.push_back(e.path().string());
  }
  // /dev/video2 before /dev/video10.
  std::sort(paths.begin(), paths.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  for (const std::string& p : paths) {
    const int fd = open(p.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    v4l2_capability cap{};
    if (Ioctl(fd, VIDIOC_QUERYCAP, &cap) == 0) {
      const uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
      if (caps & V4L2_CAP_VIDEO_CAPTURE) {  // metadata and output nodes of the same camera are not cameras
        Device d;
        d.path = p;
        d.name = reinterpret_cast<const char*>(cap.card);
        d.driver = reinterpret_cast<const char*>(cap.driver);
        v4l2_fmtdesc fd_{};
        fd_.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        for (fd_.index = 0; Ioctl(fd, VIDIOC_ENUM_FMT, &fd_) == 0; fd_.index++) {
          Format f;
          f.fourcc = Fourcc(fd_.pixelformat);
          f.description = reinterpret_cast<const char*>(fd_.description);
          f.compressed = fd_.flags & V4L2_FMT_FLAG_COMPRESSED;
          v4l2_frmsizeenum fs{};
          fs.pixel_format = fd_.pixelformat;
          for (fs.index = 0; Ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) == 0; fs.index++) {
            Size s;
            if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
              s.width = (int)fs.discrete.width;
              s.height = (int)fs.discrete.height;
            } else {  // stepwise / continuous: the largest
              s.width = (int)fs.stepwise.max_width;
              s.height = (int)fs.stepwise.max_height;
            }
            v4l2_frmivalenum fi{};
            fi.pixel_format = fd_.pixelformat;
            fi.width = (uint32_t)s.width;
            fi.height = (uint32_t)s.height;
            for (fi.index = 0; Ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) == 0; fi.index++) {
              const v4l2_fract& iv = fi.type == V4L2_FRMIVAL_TYPE_DISCRETE ? fi.discrete : fi.stepwise.min;
              if (iv.numerator) s.fps.push_back((double)iv.denominator / iv.numerator);
              if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE) break;
            }
            f.sizes.push_back(s);
            if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) break;
          }
          d.formats.push_back(std::move(f));
        }
        out.push_back(std::move(d));
      }
    }
    close(fd);
  }
  // libavdevice's own list names them the same way; prefer its description where it has one.
  if (const AVInputFormat* v4l2 = av_find_input_format("video4linux2,v4l2")) {
    AVDeviceInfoList* list = nullptr;
    if (avdevice_list_input_sources(v4l2, nullptr, nullptr, &list) >= 0 && list) {
      for (int i = 0; i < list->nb_devices; i++)
        for (Device& d : out)
          if (list->devices[i]->device_name && d.path == list->devices[i]->device_name && list->devices[i]->device_description)
            d.name = list->devices[i]->device_description;
    }
    avdevice_free_list_devices(&list);
  }
  return out;
}
#endif

[[maybe_unused]] std::vector<Device> ListAvdevice(const char* format) {
  std::vector<Device> out;
  const AVInputFormat* f = av_find_input_format(format);
  if (!f) return out;
  AVDeviceInfoList* list = nullptr;
  if (avdevice_list_input_sources(f, nullptr, nullptr, &list) >= 0 && list) {
    for (int i = 0; i < list->nb_devices; i++) {
      const AVDeviceInfo* d = list->devices[i];
      bool video = d->nb_media_types == 0;
      for (int m = 0; m < d->nb_media_types; m++) video |= d->media_types[m] == AVMEDIA_TYPE_VIDEO;
      if (!video) continue;
      Device dev;
      dev.path = d->device_name ? d->device_name : "";
      dev.name = d->device_description ? d->device_description : dev.path;
      out.push_back(std::move(dev));
    }
  }
  avdevice_free_list_devices(&list);
  return out;
}

class ListWorker : public Napi::AsyncWorker {
 public:
  explicit ListWorker(Napi::Env env) : Napi::AsyncWorker(env, "av-rewind:devices"), deferred_(env) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
#if defined(__linux__)
    devices_ = ListV4l2();
#elif defined(_WIN32)
    devices_ = ListAvdevice("dshow");
#elif defined(__APPLE__)
    devices_ = ListAvdevice("avfoundation");
#endif
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array a = Napi::Array::New(env, devices_.size());
    for (size_t i = 0; i < devices_.size(); i++) {
      const Device& d = devices_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("path", d.path);
      o.Set("name", d.name);
      if (!d.driver.empty()) o.Set("driver", d.driver);
      Napi::Array fs = Napi::Array::New(env, d.formats.size());
      for (size_t j = 0; j < d.formats.size(); j++) {
        const Format& f = d.formats[j];
        Napi::Object fo = Napi::Object::New(env);
        fo.Set("fourcc", f.fourcc);
        fo.Set("description", f.description);
        fo.Set("compressed", f.compressed);
        Napi::Array ss = Napi::Array::New(env, f.sizes.size());
        for (size_t k = 0; k < f.sizes.size(); k++) {
          Napi::Object so = Napi::Object::New(env);
          so.Set("width", f.sizes[k].width);
          so.Set("height", f.sizes[k].height);
          Napi::Array fps = Napi::Array::New(env, f.sizes[k].fps.size());
          for (size_t m = 0; m < f.sizes[k].fps.size(); m++) fps.Set((uint32_t)m, f.sizes[k].fps[m]);
          so.Set("fps", fps);
          ss.Set((uint32_t)k, so);
        }
        fo.Set("sizes", ss);
        fs.Set((uint32_t)j, fo);
      }
      o.Set("formats", fs);
      a.Set((uint32_t)i, o);
    }
    deferred_.Resolve(a);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Device> devices_;
};

}  // namespace

Napi::Value ListDevicesBinding(const Napi::CallbackInfo& info) {
  auto* w = new ListWorker(info.Env());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace avr
