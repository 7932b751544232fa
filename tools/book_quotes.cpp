// book_quotes — keeps the code quoted in book/*.md identical to the named regions of the
// sources (the convention is described in tools/book_quotes.hpp).
//
//   book_quotes --check ROOT   lists every stale quote, missing file or missing region;
//                              exits 1 if there is any, 0 when the book is current
//   book_quotes --write ROOT   rewrites the stale quotes from the sources (make book-quotes);
//                              exits 1 if a quote names a missing file or region
#include <iostream>
#include <string>

#include "book_quotes.hpp"

int main(int argc, char** argv) {
    const std::string mode = argc == 3 ? argv[1] : "";
    if (mode != "--check" && mode != "--write") {
        std::cerr << "usage: book_quotes --check ROOT | --write ROOT\n"
                     "  --check  list the quotes in ROOT/book/*.md that differ from their source regions\n"
                     "  --write  refresh those quotes from the sources\n";
        return 2;
    }
    const bool write = mode == "--write";
    const book_quotes::BookResult book = book_quotes::check_book(argv[2], write);

    for (const book_quotes::Problem& p : book.errors) std::cerr << p.str() << '\n';
    if (write) {
        for (const std::string& chapter : book.written) std::cout << "book_quotes: refreshed " << chapter << '\n';
        std::cout << "book_quotes: " << book.quotes << " quotes in " << book.chapters.size() << " chapters, "
                  << book.stale.size() << " refreshed, " << book.errors.size() << " problems\n";
        return book.errors.empty() ? 0 : 1;
    }
    for (const book_quotes::Problem& p : book.stale) std::cerr << p.str() << '\n';
    if (!book.stale.empty()) std::cerr << "book_quotes: run `make book-quotes` to refresh the stale quotes\n";
    std::cout << "book_quotes: " << book.quotes << " quotes in " << book.chapters.size() << " chapters, "
              << book.stale.size() << " stale, " << book.errors.size() << " problems\n";
    return book.errors.empty() && book.stale.empty() ? 0 : 1;
}
