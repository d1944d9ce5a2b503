"""The Aster emulator: futures /fapi and spot /api REST, /fstream and /sstream WebSockets, /_sim/ controls."""
