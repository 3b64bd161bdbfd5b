package dev.finemix.server.cli;
public final class Main { public static void main(String[] a) { System.out.println("finemix"); } }
