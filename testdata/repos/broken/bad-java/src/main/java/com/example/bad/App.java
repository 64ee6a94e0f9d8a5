package com.example.bad;

public final class App {
    private App() {
    }

    public static void main(String[] args) {
        System.out.println("bad-java: the pom.xml of this project does not parse");
    }
}
