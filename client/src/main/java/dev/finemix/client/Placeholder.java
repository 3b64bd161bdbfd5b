package dev.finemix.client; final class Placeholder {}
