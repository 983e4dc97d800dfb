// dlibref runs dlib's own frontal face detector and shape predictor on 8-bit
// binary PGM images, so the Go tests can compare predictor against predictor
// on identical pixels and boxes.
//
//   dlibref MODEL -detect A.pgm [B.pgm ...]   detect faces, predict on each
//   dlibref MODEL A.pgm L T R B [L T R B ...]  predict on the given boxes
//
// Output, one record a line:
//   load_ms MS
//   face IMG L T R B           (dlib rectangle: inclusive corners)
//   pts X0 Y0 ... X67 Y67      (dlib's parts, rounded to pixels by dlib)
//   predict_us US              (mean over repeated runs of this face)
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/array2d.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

using namespace dlib;

static void load_pgm(const char* path, array2d<unsigned char>& img) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    long w, h, maxv;
    in >> magic >> w >> h >> maxv;
    if (!in || magic != "P5" || maxv != 255) {
        std::cerr << path << ": not an 8-bit binary PGM\n";
        std::exit(2);
    }
    in.get();  // the single whitespace byte after the header
    img.set_size(h, w);
    for (long r = 0; r < h; ++r)
        in.read(reinterpret_cast<char*>(&img[r][0]), w);
    if (!in) {
        std::cerr << path << ": short PGM\n";
        std::exit(2);
    }
}

static void predict(const shape_predictor& sp, const array2d<unsigned char>& img,
                    int idx, const rectangle& box, int reps) {
    full_object_detection d = sp(img, box);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i)
        d = sp(img, box);
    auto t1 = std::chrono::steady_clock::now();
    std::printf("face %d %ld %ld %ld %ld\npts", idx, box.left(), box.top(),
                box.right(), box.bottom());
    for (unsigned long k = 0; k < d.num_parts(); ++k)
        std::printf(" %ld %ld", d.part(k).x(), d.part(k).y());
    std::printf("\npredict_us %.3f\n",
                std::chrono::duration<double, std::micro>(t1 - t0).count() / reps);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: dlibref MODEL -detect A.pgm... | dlibref MODEL A.pgm L T R B...\n";
        return 2;
    }
    int reps = 200;
    if (const char* s = std::getenv("DLIBREF_REPS"))
        reps = std::atoi(s);
    shape_predictor sp;
    auto t0 = std::chrono::steady_clock::now();
    deserialize(argv[1]) >> sp;
    auto t1 = std::chrono::steady_clock::now();
    std::printf("load_ms %.1f\n", std::chrono::duration<double, std::milli>(t1 - t0).count());

    if (std::string(argv[2]) == "-detect") {
        frontal_face_detector det = get_frontal_face_detector();
        for (int i = 3; i < argc; ++i) {
            array2d<unsigned char> img;
            load_pgm(argv[i], img);
            for (const rectangle& box : det(img))
                predict(sp, img, i - 3, box, reps);
        }
        return 0;
    }
    array2d<unsigned char> img;
    load_pgm(argv[2], img);
    for (int i = 3; i + 3 < argc; i += 4) {
        rectangle box(std::atol(argv[i]), std::atol(argv[i + 1]),
                      std::atol(argv[i + 2]), std::atol(argv[i + 3]));
        predict(sp, img, 0, box, reps);
    }
    return 0;
}
