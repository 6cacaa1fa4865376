// A WASI test program in C++ (libc++, no exceptions): counts the words on
// stdin, sorts shapes through virtual calls, runs a static constructor,
// writes and reads back a file under the preopened /data ($DATA natively),
// and prints numbers whose values the C++ standard fixes, so that its
// native build prints the same (words_cpp.expected, with words.input on
// stdin and the arguments "one two"). Built by scripts/build-corpus.
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

struct Shape {
    virtual ~Shape() = default;
    virtual int64_t area() const = 0;
    virtual std::string name() const = 0;
};

struct Square : Shape {
    int64_t side;
    explicit Square(int64_t side) : side(side) {}
    int64_t area() const override { return side * side; }
    std::string name() const override { return "square " + std::to_string(side); }
};

struct Rect : Shape {
    int64_t w, h;
    Rect(int64_t w, int64_t h) : w(w), h(h) {}
    int64_t area() const override { return w * h; }
    std::string name() const override { return "rect " + std::to_string(w) + "x" + std::to_string(h); }
};

static std::map<std::string, int> registry = {{"a", 1}, {"b", 2}};

// Runs before main: the program's start must call the constructors.
static struct Register {
    Register() { registry["static"] = 42; }
} register_at_start;

int main(int argc, char **argv) {
    std::vector<std::unique_ptr<Shape>> shapes;
    for (int64_t i = 1; i <= 6; i++) {
        shapes.push_back(std::make_unique<Square>(i));
        shapes.push_back(std::make_unique<Rect>(i, 7 - i));
    }
    std::stable_sort(shapes.begin(), shapes.end(),
                     [](const auto &a, const auto &b) { return a->area() > b->area(); });
    std::cout << "largest: " << shapes.front()->name() << ", smallest: " << shapes.back()->name() << "\n";

    std::unordered_map<std::string, int> counts;
    std::string line;
    int lines = 0;
    while (std::getline(std::cin, line)) {
        lines++;
        std::istringstream words(line);
        std::string word;
        while (words >> word) counts[word]++;
    }
    std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::cout << "lines " << lines << ", distinct words " << sorted.size() << "\n";
    for (size_t i = 0; i < std::min<size_t>(3, sorted.size()); i++)
        std::cout << "  " << sorted[i].first << " " << sorted[i].second << "\n";

    std::cout << "static " << registry["static"] << ", args";
    for (int i = 1; i < argc; i++) std::cout << " " << argv[i];
    std::cout << "\n";

    // The standard fixes the 10000th output of a default mt19937: 4123659995.
    std::mt19937 gen;
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) x = gen();
    std::cout << "mt19937 " << x << "\n";

    std::function<int64_t(int)> factorial = [&](int n) -> int64_t { return n <= 1 ? 1 : n * factorial(n - 1); };
    std::cout << "20! = " << factorial(20) << ", " << std::fixed << std::setprecision(6) << 22.0 / 7 << "\n";

    const char *data = std::getenv("DATA");
    const std::string dir = data ? data : "/data";
    {
        std::ofstream out(dir + "/words.txt");
        out << "written by c++ " << sorted.size() << "\n";
    }
    std::ifstream in(dir + "/words.txt");
    std::string back;
    std::getline(in, back);
    std::cout << "read back: " << (in ? back : "failed") << "\n";
    std::ifstream outside(dir + "/../secret.txt");
    std::cout << "escape: " << (outside ? "ESCAPED" : "denied") << "\n";
    std::cerr << "done" << std::endl;
    return 0;
}
