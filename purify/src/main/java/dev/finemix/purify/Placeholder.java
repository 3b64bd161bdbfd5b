package dev.finemix.purify; final class Placeholder {}
