/* Classifies raw MNIST images with the generated CNN header: reads N images of
   784 bytes from the file given, prints "f32 int8" predictions, one line per
   image. */
#include <stdio.h>
#include "cnn.h"

int main(int argc, char **argv) {
    unsigned char image[784];
    float x[784];
    FILE *f;
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGES\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    while (fread(image, 1, sizeof image, f) == sizeof image) {
        for (i = 0; i < 784; i++) x[i] = (float)image[i] / 255.0f;
        printf("%d %d\n", cnn_predict(x), cnn_int8_predict(image));
    }
    fclose(f);
    return 0;
}
